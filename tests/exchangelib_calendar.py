"""Reads a mailbox's calendars and task folders with exchangelib, as an
independent client: each folder of class IPF.Appointment or IPF.Task
below the message root listed with SyncFolderItems, its items fetched with
GetItem, and each series' modified occurrences fetched by the ids their
master lists.

Usage: exchangelib_calendar.py ENDPOINT USER PASSWORD

Prints one JSON document: {"events": [...], "tasks": [...]}.
"""
import json
import sys

from exchangelib import NTLM, Account, Configuration, Credentials
from exchangelib.items import CalendarItem

endpoint, user, password = sys.argv[1:4]
config = Configuration(service_endpoint=endpoint, credentials=Credentials(user, password), auth_type=NTLM)
account = Account(user, config=config, autodiscover=False)

EVENT_FIELDS = ["subject", "body", "start", "end", "is_all_day", "location", "type", "organizer", "required_attendees",
                "optional_attendees", "recurrence", "modified_occurrences", "deleted_occurrences", "original_start",
                "attachments", "importance", "categories"]
TASK_FIELDS = ["subject", "body", "status", "percent_complete", "start_date", "due_date", "complete_date", "owner",
               "is_recurring", "recurrence", "attachments"]


def when(value):
    return None if value is None else value.isoformat()


def event(folder, item):
    recurrence = None
    if item.recurrence is not None:
        pattern, boundary = item.recurrence.pattern, item.recurrence.boundary
        recurrence = {"interval": pattern.interval, "weekdays": [str(w) for w in pattern.weekdays],
                      "start": str(boundary.start), "end": str(boundary.end)}
    return {
        "folder": folder.name, "id": item.id, "subject": item.subject, "body": str(item.body or ""),
        "start": when(item.start), "end": when(item.end), "all_day": item.is_all_day, "location": item.location,
        "type": item.type, "organizer": item.organizer.email_address if item.organizer else None,
        "required": [a.mailbox.email_address for a in item.required_attendees or []],
        "optional": [a.mailbox.email_address for a in item.optional_attendees or []],
        "recurrence": recurrence,
        "modified": [{"id": o.id, "start": when(o.start), "original_start": when(o.original_start)}
                     for o in item.modified_occurrences or []],
        "deleted": [when(d.start) for d in item.deleted_occurrences or []],
        "original_start": when(item.original_start),
        "attachments": [a.name for a in item.attachments or []],
    }


def task(folder, item):
    return {
        "folder": folder.name, "id": item.id, "subject": item.subject, "status": item.status,
        "percent_complete": float(item.percent_complete or 0), "due": when(item.due_date),
        "completed": when(item.complete_date), "owner": item.owner, "recurring": item.is_recurring,
        "attachments": [a.name for a in item.attachments or []],
    }


events, tasks = [], []
for folder in account.msg_folder_root.walk():
    if folder.folder_class not in ("IPF.Appointment", "IPF.Task"):
        continue
    ids = [item for change, item in folder.sync_items(only_fields=["id", "changekey"]) if change in ("create", "update")]
    if folder.folder_class == "IPF.Appointment":
        for item in account.fetch(ids, only_fields=EVENT_FIELDS):
            events.append(event(folder, item))
            occurrences = [(o.id, o.changekey) for o in item.modified_occurrences or []]
            for exception in account.fetch(occurrences, only_fields=EVENT_FIELDS):
                events.append(event(folder, exception))
    else:
        for item in account.fetch(ids, only_fields=TASK_FIELDS):
            tasks.append(task(folder, item))
print(json.dumps({"events": events, "tasks": tasks}))
