//! `harbor metrics`: a one-shot Prometheus dump.

use clap::Args;

use crate::settings::Settings;

/// Print Prometheus metrics (text exposition format) computed from the destination: runs,
/// durations, rows, API calls, 429s, errors, LLM tokens and cost, cursor lag, cutover routes. The
/// same text `harbor serve` answers on /metrics; pipe it to a node_exporter textfile collector or a
/// Pushgateway when no server runs.
#[derive(Debug, Args)]
pub struct MetricsArgs {}

pub fn run(settings: &Settings, _args: MetricsArgs) -> anyhow::Result<()> {
    let mut store = crate::dest::open_ops(settings)?;
    print!(
        "{}",
        harbor_ops::metrics::render_metrics_for(store.as_mut(), None, Some(&settings.pipeline))?
    );
    Ok(())
}
