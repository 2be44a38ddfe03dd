"""The benchmark's peer: a full read of contacts with exchangelib.

Usage: exchangelib_read.py ENDPOINT USER PASSWORD LIMIT PAGE_SIZE CHUNK_SIZE

Reads the contacts folder and the folders below it, whole folders in order
until LIMIT contacts are read, as exchangelib reads them: FindItem pages of
PAGE_SIZE ids, then GetItem for CHUNK_SIZE contacts at a time with every
field. Prints one JSON document: the contacts read and the milliseconds it
took (the connection set-up before the first folder is not counted).
"""
import json
import sys
import time

from exchangelib import DELEGATE, NTLM, Account, Configuration, Credentials
from exchangelib.items import Contact

endpoint, user, password = sys.argv[1:4]
limit, page_size, chunk_size = (int(a) for a in sys.argv[4:7])
config = Configuration(service_endpoint=endpoint, credentials=Credentials(user, password), auth_type=NTLM)
account = Account(user, config=config, autodiscover=False, access_type=DELEGATE)
folders = [account.contacts, *account.contacts.walk()]

read = 0
started = time.perf_counter()
for folder in folders:
    if read >= limit:
        break
    query = folder.all()
    query.page_size = page_size
    query.chunk_size = chunk_size
    read += sum(1 for item in query if isinstance(item, Contact))
elapsed_ms = (time.perf_counter() - started) * 1000
print(json.dumps({"contacts": read, "ms": elapsed_ms}))
