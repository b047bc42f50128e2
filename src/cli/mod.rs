//! Command handlers other than `serve`: each prints for people on stdout and returns an exit code.

pub mod batch;
pub mod calendar;
pub mod campaign;
pub mod enqueue;
pub mod log;
pub mod opt_out;
pub mod template;
pub mod utility;
