use crate::exit::Outcome;

/// The workloads (Mandelbrot, Movies) are not built yet; say so plainly rather than
/// pretend.
pub fn run() -> anyhow::Result<Outcome> {
    eprintln!(
        "pikube demo: the workloads it will run are not built yet.\n\
         Today pikube prepares Raspberry Pi nodes for K3s: see `pikube --help` and the README."
    );
    Ok(Outcome::Failed)
}
