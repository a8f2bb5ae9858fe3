//! `triage-eval --train FILE --test FILE`: trains a fresh model on the first file and reports on
//! the second. The last line is `macro_f1=…` (classification) or `f1=…` (pairs).
//! `triage-eval --clusters FILE`: how hot-issue clusters of a labelled file match its labels.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut train: Option<PathBuf> = None;
    let mut test: Option<PathBuf> = None;
    let mut clusters: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--train" => train = args.next().map(PathBuf::from),
            "--test" => test = args.next().map(PathBuf::from),
            "--clusters" => clusters = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                println!("usage: triage-eval --train FILE --test FILE | --clusters FILE");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!(
                    "unknown argument {other:?}; usage: triage-eval --train FILE --test FILE"
                );
                return ExitCode::from(2);
            }
        }
    }
    if let Some(path) = clusters {
        let stdout = std::io::stdout();
        return match closedloop_triage::eval::clusters(&path, &mut stdout.lock()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("triage-eval: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let (Some(train), Some(test)) = (train, test) else {
        eprintln!("usage: triage-eval --train FILE --test FILE");
        return ExitCode::from(2);
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match closedloop_triage::eval::run(&train, &test, &mut out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("triage-eval: {e}");
            ExitCode::FAILURE
        }
    }
}
