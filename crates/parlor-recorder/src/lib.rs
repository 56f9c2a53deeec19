//! Parlor recorder (being written).
