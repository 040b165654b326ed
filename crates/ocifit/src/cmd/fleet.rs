//! `ocifit fleet`: every image against every node; the pairs that cannot run.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

use ocifit_core::Index;
use ocifit_fleet::Report;
use ocifit_fleet::nodes::{self, Fleet, NodeRecord};
use ocifit_source::Source;

use crate::cli::{FleetArgs, FleetFormat};
use crate::error::{Failure, Outcome as CommandOutcome};

pub fn run(args: FleetArgs) -> CommandOutcome {
    if args.nodes.iter().chain(&args.image).filter(|a| *a == "-").count() > 1 {
        return Err(Failure::bad("standard input (-) can be only one of the --nodes and --image inputs"));
    }
    let fleet = read_fleet(&args.nodes)?;
    let mut images: Vec<String> = Vec::new();
    for image in &args.image {
        if !images.contains(image) {
            images.push(image.clone());
        }
    }
    let loaded = load_images(&images, usize::from(args.jobs));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let report = Report::new(&fleet, &images, loaded, threads);
    if report.checked() == 0 {
        let (_, message) = report.failures().next().expect("at least one image");
        let more = images.len() - 1;
        let more = if more > 0 { format!(" (and {more} more images could not be read)") } else { String::new() };
        return Err(Failure::bad(format!("no image could be checked: {message}{more}")));
    }
    for (_, message) in report.failures() {
        eprintln!("ocifit: not checked: {message}");
    }
    let only = args.only_incompatible;
    // A closed pipe (`| head`) is not an error.
    let _ = match args.format {
        FleetFormat::Json => write_stdout(|out| report.json(out, only)),
        FleetFormat::Csv => write_stdout(|out| report.csv(out, only)),
        FleetFormat::Text => write_stdout(|out| out.write_all(report.text(only).as_bytes())),
    };
    Ok(if report.all_compatible() { 0 } else { 1 })
}

fn read_fleet(args: &[String]) -> Result<Fleet, Failure> {
    let mut records: Vec<NodeRecord> = Vec::new();
    for arg in args {
        let found = if arg == "-" {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes)
                .map_err(|e| Failure::bad(format!("-: cannot read standard input: {e}")))?;
            nodes::parse(&bytes, "-", "-")
        } else {
            nodes::read_path(Path::new(arg))
        };
        records.extend(found.map_err(|e| Failure::bad(format!("--nodes {e}")))?);
    }
    if records.is_empty() {
        return Err(Failure::bad(format!("--nodes {}: no nodes", args.join(" "))));
    }
    Fleet::from_records(records).map_err(|e| Failure::bad(format!("--nodes {e}")))
}

/// Load every image once, `jobs` at a time; progress on stderr when it is a
/// terminal and loading takes more than a second. An image that cannot be
/// read is its one-line error: the others are still checked.
fn load_images(images: &[String], jobs: usize) -> Vec<Result<Index, String>> {
    let slots: Vec<Mutex<Option<Result<Index, String>>>> = images.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let (finished, events) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(images.len()) {
            let finished = finished.clone();
            let (next, slots) = (&next, &slots);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(arg) = images.get(i) else { break };
                    let loaded = Source::parse(arg).load().map(|l| l.index).map_err(|e| e.to_string());
                    *slots[i].lock().expect("no thread panics holding a slot") = Some(loaded);
                    let _ = finished.send(());
                }
            });
        }
        drop(finished);
        let mut progress = Progress::new(images.len());
        let mut done = 0;
        while done < images.len() {
            match events.recv_timeout(Duration::from_millis(100)) {
                Ok(()) => done += 1,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            progress.show(done);
        }
        progress.finish();
    });
    slots
        .into_iter()
        .map(|slot| slot.into_inner().expect("no thread panics holding a slot").expect("every image is loaded"))
        .collect()
}

/// `loading images 12/500` on stderr, only on a terminal and after a second.
struct Progress {
    total: usize,
    start: Instant,
    last: Instant,
    shown: bool,
    tty: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        let now = Instant::now();
        Progress { total, start: now, last: now, shown: false, tty: std::io::stderr().is_terminal() }
    }

    fn show(&mut self, done: usize) {
        let now = Instant::now();
        if self.tty && now - self.start > Duration::from_secs(1) && now - self.last >= Duration::from_millis(100) {
            eprint!("\rocifit: loading images {done}/{}", self.total);
            self.shown = true;
            self.last = now;
        }
    }

    fn finish(&mut self) {
        if self.shown {
            eprint!("\r\x1b[K");
        }
    }
}

fn write_stdout(f: impl FnOnce(&mut dyn Write) -> std::io::Result<()>) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    f(&mut out)?;
    out.flush()
}
