//! Counter structs shared between transport tasks and their owner.
//!
//! Each counter is an independent relaxed [`AtomicU64`]; a snapshot is therefore not a
//! consistent cut across counters. This module does **not** export metrics anywhere.

pub(crate) use std::sync::atomic::{AtomicU64, Ordering};

/// Defines a struct of `AtomicU64` counters plus a plain `Copy` snapshot of it.
macro_rules! counters {
    (
        $(#[$meta:meta])*
        $name:ident / $snap:ident {
            $( $(#[$fmeta:meta])* $field:ident, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $crate::stats::AtomicU64, )*
        }

        #[doc = concat!("A point-in-time copy of [`", stringify!($name), "`].")]
        #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
        pub struct $snap {
            $( $(#[$fmeta])* pub $field: u64, )*
        }

        impl $name {
            /// Reads every counter (each one atomically, relaxed).
            pub fn snapshot(&self) -> $snap {
                $snap {
                    $( $field: self.$field.load($crate::stats::Ordering::Relaxed), )*
                }
            }
        }
    };
}

pub(crate) use counters;

/// Adds `n` to a counter.
pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

/// Adds one to a counter.
pub(crate) fn inc(counter: &AtomicU64) {
    add(counter, 1);
}
