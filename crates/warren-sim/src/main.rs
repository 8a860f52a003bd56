//! The simulator's report command: `warren-sim SCENARIO [--nodes N] [--seed S] [--profile P]
//! [--seconds T] [--loss P] [--group-size G] [--runs R] [--partition-storm] [--json]`. Prints one JSON object (or `key: value` lines without
//! `--json`). It only parses flags and prints; the scenarios live in the library.

use std::process::ExitCode;

use clap::Parser;
use warren_ring::Profile;
use warren_sim::scenario::{self, Params};

/// Runs one simulator scenario and reports its numbers.
#[derive(Parser, Debug)]
#[command(name = "warren-sim", version, about)]
struct Args {
    /// One of: converge, crash, steady, loss, slow, rumor, join, churn, election, election-fuzz,
    /// graceful, replace, restart-cut.
    scenario: String,
    /// Ring size.
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Seed of every random choice; the same seed gives the same report.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Timing profile: default (Warren, Lifeguard) or habitat (Habitat 2.1.78's timings).
    #[arg(long, default_value = "default")]
    profile: Profile,
    /// Simulated seconds of the measured phase (each scenario has its own default).
    #[arg(long)]
    seconds: Option<f64>,
    /// Datagram loss probability during the measured phase (0.0–1.0).
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Election scenarios: members of the leader-topology service group.
    #[arg(long, default_value_t = 5)]
    group_size: usize,
    /// Election scenarios: leader kills (election, graceful; default 20) or randomized runs
    /// (election-fuzz; default 1000).
    #[arg(long, default_value_t = 0)]
    runs: usize,
    /// election-fuzz: split the ring again without waiting for the group to agree after the last
    /// heal (a fault model Warren's election does not promise safety under; reported for
    /// comparison).
    #[arg(long)]
    partition_storm: bool,
    /// election-fuzz: also unload and reload services, join new members up to 2 s after they
    /// boot (a resolver waiting for DNS) and delay a restarted member's rumors by up to 5 s
    /// (pushers reconnecting).
    #[arg(long)]
    churn: bool,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !(0.0..=1.0).contains(&args.loss) {
        eprintln!(
            "warren-sim: --loss must be between 0 and 1, got {}",
            args.loss
        );
        return ExitCode::from(2);
    }
    let params = Params {
        nodes: args.nodes,
        seed: args.seed,
        profile: args.profile,
        seconds: args.seconds,
        loss: args.loss,
        group_size: args.group_size,
        runs: args.runs,
        partition_storm: args.partition_storm,
        churn: args.churn,
    };
    match scenario::run(&args.scenario, &params) {
        Ok(report) => {
            if args.json {
                println!("{report}");
            } else if let serde_json::Value::Object(m) = report {
                for (k, v) in m {
                    println!("{k}: {v}");
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("warren-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
