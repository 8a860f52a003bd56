//! Test-only faults of the binary itself, compiled in only with the `fault-injection` feature
//! (the gossip transport's own faults are in `warren-net`). `WARREN_FAULT_STALL_MS` (with
//! `WARREN_FAULT_STALL_EVERY_MS`, default twice the stall) blocks the thread of the main
//! runtime — the one that runs the services, the HTTP gateway and the control API — for that
//! long, periodically, as a slow disk under a service's file I/O would. The ring runs on its own
//! thread and must not notice. Without the feature, or with the variable unset, nothing happens.

/// Starts the periodic stall on the current runtime if `WARREN_FAULT_STALL_MS` asks for one.
#[cfg(feature = "fault-injection")]
pub(crate) fn stall_this_runtime() {
    use std::time::Duration;

    let ms = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let Some(stall) = ms("WARREN_FAULT_STALL_MS").filter(|s| *s > 0) else {
        return;
    };
    let every = ms("WARREN_FAULT_STALL_EVERY_MS")
        .unwrap_or(2 * stall)
        .max(stall);
    tracing::warn!(
        stall_ms = stall,
        every_ms = every,
        "fault injection: the main runtime's thread is blocked periodically"
    );
    let (stall, every) = (Duration::from_millis(stall), Duration::from_millis(every));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every - stall).await;
            // Deliberately blocking: this is the fault.
            std::thread::sleep(stall);
        }
    });
}

/// Without the `fault-injection` feature there are no faults.
#[cfg(not(feature = "fault-injection"))]
pub(crate) fn stall_this_runtime() {}
