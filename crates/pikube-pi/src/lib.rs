//! Raspberry Pi facts and edits.
