//! Parlor compositor (being written).
