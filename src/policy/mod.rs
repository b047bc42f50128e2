//! Rules on when and how often a debtor may be contacted (230-ФЗ ст.7; domain.md §2, §8): contact windows in
//! the debtor's local time, the production calendar, frequency caps. Pure code: the dispatcher (issue 4) asks
//! these at dispatch time; nothing here does I/O.

pub mod calendar;
pub mod caps;
pub mod window;
