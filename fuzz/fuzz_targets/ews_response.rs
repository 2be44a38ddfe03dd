//! Any bytes as an EWS response, through each operation's parser: errors
//! are fine, panics and hangs are not.
#![no_main]

use exchange_connector::ews::response::read_response;
use exchange_connector::ews::{find_folder, find_item, get_folder, get_item, sync_folder_hierarchy, sync_folder_items};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    match which % 6 {
        0 => drop(read_response(body, &mut get_item::parser())),
        1 => drop(read_response(body, &mut find_item::Parser::new(0))),
        2 => drop(read_response(body, &mut find_folder::Parser::new(0))),
        3 => drop(read_response(body, &mut get_folder::parser())),
        4 => drop(read_response(body, &mut sync_folder_hierarchy::Parser::default())),
        _ => drop(read_response(body, &mut sync_folder_items::Parser::default())),
    }
});
