//! SyncFolderHierarchy (fixtures/ews/msdocs/how-to-synchronize-folders-
//! by-using-ews-in-exchange 01 to 04; messages.xsd SyncFolderHierarchyType
//! and SyncFolderHierarchyResponseMessageType, types.xsd
//! SyncFolderHierarchyChangesType): the folders below the sync folder made
//! (`Create`) or changed (`Update`) since a sync state, each in the
//! requested shape, in one answer with IncludesLastFolderInRange true, as
//! both documented answers are. Public folders have no hierarchy sync
//! (reference/ews-and-graph-protocol.md, public folders).
//!
//! Not in ../shared, and ours: the mailbox's `root` when no SyncFolderId
//! is named (the schema makes it optional; the documented requests name
//! `root`), the words of the public-folder refusal, and the codes of the
//! missing-folder and bad-state refusals, taken from SyncFolderItems'.

use super::request::Node as Element;
use super::shape::Shape;
use super::{ACCESS_DENIED, FOLDER_NOT_FOUND, error, folder_refs, folder_xml, response, success};
use crate::data::Mailbox;
use crate::data::hierarchy::FolderChange;
use crate::state_token;
use std::fmt::Write;

const OP: &str = "SyncFolderHierarchy";
const HIERARCHY_STATE: &[u8; 8] = b"EMUHIER1";

pub fn answer(mailbox: &Mailbox, op: &Element, shape: &Shape) -> String {
    let tail = "<m:SyncState/><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange>";
    let root = match op.child("SyncFolderId") {
        Some(named) => folder_refs(mailbox, Some(named)).into_iter().next().flatten(),
        None => mailbox.distinguished("root"),
    };
    let message = match root {
        None => error(OP, "ErrorSyncFolderNotFound", FOLDER_NOT_FOUND, tail),
        Some(folder) if folder.denied => error(OP, "ErrorAccessDenied", ACCESS_DENIED, tail),
        Some(folder) if folder.public => error(OP, "ErrorInvalidOperation", "SyncFolderHierarchy is not supported for public folders.", tail),
        Some(folder) => {
            let since = match op.child_text("SyncState").map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(state) => state_token::decode(HIERARCHY_STATE, folder, state).map(Some).ok_or(()),
            };
            match since {
                Err(()) => error(OP, "ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid.", tail),
                Ok(since) => {
                    let mut changes = String::new();
                    for change in mailbox.folder_changes(&folder.id, since) {
                        let (kind, f) = match change {
                            FolderChange::Create(f) => ("Create", f),
                            FolderChange::Update(f) => ("Update", f),
                        };
                        let _ = write!(changes, "<t:{kind}>{}</t:{kind}>", folder_xml(mailbox, f, shape));
                    }
                    let state = state_token::encode(HIERARCHY_STATE, folder, mailbox.seq);
                    success(
                        OP,
                        &format!("<m:SyncState>{state}</m:SyncState><m:IncludesLastFolderInRange>true</m:IncludesLastFolderInRange><m:Changes>{changes}</m:Changes>"),
                    )
                }
            }
        }
    };
    response(OP, &message)
}
