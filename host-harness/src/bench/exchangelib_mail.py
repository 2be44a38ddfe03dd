"""The benchmark's peer for mail: the mail of several mailboxes read with
exchangelib as our sync reads it.

Usage: exchangelib_mail.py ENDPOINT USER PASSWORD MAX_BYTES MAILBOX...

For each mailbox (impersonated): the IPF.Note folders below the message
root, without Deleted Items and Drafts (and search folders, which refuse
SyncFolderItems); each folder's
items listed with SyncFolderItems, then fetched with GetItem 25 at a time
with the fields our documents hold, and every file attachment of at most
MAX_BYTES downloaded. Prints one JSON document: messages and attachments
read, and the milliseconds it took.
"""
import json
import sys
import time

from exchangelib import IMPERSONATION, NTLM, Account, Configuration, Credentials
from exchangelib.attachments import FileAttachment
from exchangelib.errors import ErrorInvalidOperation

endpoint, user, password, max_bytes = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
mailboxes = sys.argv[5:]
config = Configuration(service_endpoint=endpoint, credentials=Credentials(user, password), auth_type=NTLM)
FIELDS = ["subject", "body", "sender", "to_recipients", "cc_recipients", "datetime_received", "last_modified_time",
          "categories", "importance", "is_read", "conversation_id", "attachments"]

messages = attachments = 0
started = time.perf_counter()
for mailbox in mailboxes:
    account = Account(mailbox, config=config, autodiscover=False, access_type=IMPERSONATION)
    left_out = {account.trash.id, account.drafts.id}
    for folder in account.msg_folder_root.walk():
        if folder.folder_class != "IPF.Note":
            continue
        parent, inside = folder, False
        while parent is not None:
            inside |= parent.id in left_out
            parent = parent.parent
        if inside:
            continue
        try:
            ids = [item for change, item in folder.sync_items(only_fields=["id", "changekey"]) if change in ("create", "update")]
        except ErrorInvalidOperation:
            continue  # a search folder: SyncFolderItems does not serve it
        for start in range(0, len(ids), 25):
            for item in account.fetch(ids[start:start + 25], only_fields=FIELDS):
                messages += 1
                for attachment in item.attachments or []:
                    if isinstance(attachment, FileAttachment) and (attachment.size or 0) <= max_bytes:
                        attachment.content
                        attachments += 1
elapsed_ms = (time.perf_counter() - started) * 1000
print(json.dumps({"messages": messages, "attachments": attachments, "ms": elapsed_ms}))
