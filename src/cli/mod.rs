//! Command handlers other than `serve`: each prints for people on stdout and returns an exit code.

pub mod batch;
pub mod calendar;
pub mod enqueue;
pub mod opt_out;
pub mod template;
pub mod utility;
