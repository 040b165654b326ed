pub mod explain;
pub mod features;
pub mod host;
pub mod index;
pub mod lint;
pub mod resolve;
pub mod select;
pub mod target;
