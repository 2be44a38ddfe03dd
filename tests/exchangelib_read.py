"""Reads the emulator with exchangelib 5.6.0, an independent EWS client.

Usage: exchangelib_read.py ENDPOINT USER PASSWORD [ntlm|basic]
(ntlm: requests_ntlm and pyspnego, with the MIC and, over HTTPS, the
channel binding; REQUESTS_CA_BUNDLE names the emulator's CA there)
Prints one JSON document: for the contacts folder and every folder below
it, and for every contact folder among the public folders, its name and
the contacts exchangelib read from it (id, given name, surname, first
email address). A public folder it may not read is listed with its error.
"""
import json
import sys

from exchangelib import BASIC, DELEGATE, NTLM, Account, Configuration, Credentials
from exchangelib.folders import Contacts
from exchangelib.items import Contact

endpoint, user, password = sys.argv[1:4]
auth_type = {"basic": BASIC, "ntlm": NTLM}[sys.argv[4] if len(sys.argv) > 4 else "ntlm"]
config = Configuration(service_endpoint=endpoint, credentials=Credentials(user, password), auth_type=auth_type)
account = Account(user, config=config, autodiscover=False, access_type=DELEGATE)


def read(folder, public):
    entry = {"name": folder.name, "public": public, "total_count": folder.total_count}
    try:
        entry["contacts"] = sorted(
            (
                {
                    "id": item.id,
                    "given_name": item.given_name or "",
                    "surname": item.surname or "",
                    "email": item.email_addresses[0].email if item.email_addresses else None,
                }
                for item in folder.all()
                if isinstance(item, Contact)
            ),
            key=lambda c: c["id"],
        )
    except Exception as error:  # a folder the account may not read
        entry["error"] = f"{type(error).__name__}: {error}"
    return entry


folders = {}
for folder in [account.contacts, *account.contacts.walk()]:
    folders[folder.id] = read(folder, False)
for folder in account.public_folders_root.walk():
    if isinstance(folder, Contacts):
        folders[folder.id] = read(folder, True)
print(json.dumps({"version": str(account.version.build), "folders": folders}))
