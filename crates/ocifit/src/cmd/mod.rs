pub mod explain;
pub mod features;
pub mod select;
pub mod target;
