//! Which mailboxes a sync reads: those the request names, and with
//! `all-mailboxes` every mailbox the organisation lists, room (and
//! equipment) mailboxes left out unless the request wants them. The
//! complete listing goes to the host, which removes what is no longer in it.

use crate::bindings::helpdesk::connector::host;
use crate::bindings::helpdesk::connector::types::SyncRequest;
use crate::error::Result;
use crate::report;

/// A protocol's view of the organisation's mailboxes.
pub trait Directory {
    /// Every mailbox, as (address in lower case, how the protocol names
    /// it in requests).
    fn mailboxes(&mut self) -> Result<Vec<(String, String)>>;
    /// The room mailboxes' addresses, lower case.
    fn rooms(&mut self) -> Result<Vec<String>>;
    /// How the protocol names a mailbox known only by its address.
    fn named(&self, address: &str) -> String;
}

/// The mailboxes to read, in order, named ones first.
pub fn to_read(directory: &mut impl Directory, request: &SyncRequest) -> Result<Vec<(String, String)>> {
    let mut chosen: Vec<(String, String)> = request.mailboxes.iter().map(|a| (a.trim().to_lowercase(), directory.named(a.trim()))).collect();
    if !request.all_mailboxes {
        return Ok(chosen);
    }
    let mut listed = directory.mailboxes()?;
    if !request.resource_mailboxes {
        match directory.rooms() {
            Ok(rooms) => listed.retain(|(address, _)| !rooms.contains(address)),
            Err(e) => report::warn(&format!("the room mailboxes could not be told apart ({}); they are read as well", e.message)),
        }
    }
    for mailbox in listed {
        if !chosen.iter().any(|(address, _)| *address == mailbox.0) {
            chosen.push(mailbox);
        }
    }
    let addresses: Vec<String> = chosen.iter().map(|(address, _)| address.clone()).collect();
    host::mailboxes_listed(&addresses);
    report::info(&format!("{} mailboxes to read", addresses.len()));
    Ok(chosen)
}
