"""Reads the emulator with exchangelib 5.6.0, an independent EWS client.

Usage: exchangelib_read.py ENDPOINT USER PASSWORD
Prints one JSON document: for the contacts folder and every folder below
it, its name and the ids of the contacts exchangelib read from it.
"""
import json
import sys

from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials
from exchangelib.items import Contact

endpoint, user, password = sys.argv[1:4]
config = Configuration(service_endpoint=endpoint, credentials=Credentials(user, password), auth_type=BASIC)
account = Account(user, config=config, autodiscover=False, access_type=DELEGATE)

folders = {}
for folder in [account.contacts, *account.contacts.walk()]:
    contacts = [item for item in folder.all() if isinstance(item, Contact)]
    folders[folder.id] = {
        "name": folder.name,
        "total_count": folder.total_count,
        "contacts": sorted(item.id for item in contacts),
        "given_names": sorted(item.given_name or "" for item in contacts),
        "emails": sorted(
            (item.email_addresses[0].email if item.email_addresses else "") for item in contacts
        ),
    }
print(json.dumps({"version": str(account.version.build), "folders": folders}))
