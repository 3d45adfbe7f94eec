//! Checks a product model and, optionally, a route policy against it, printing every problem
//! with its code and path. Exits 1 when either is invalid, 2 on a usage or file error.
//!
//! ```sh
//! cargo run -p portcullis-core --example check-model -- policy/model.json policy/gateway.json
//! ```

use portcullis_core::model;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (model_path, policy_path) = match args.as_slice() {
        [model] => (model, None),
        [model, policy] => (model, Some(policy)),
        _ => {
            eprintln!("usage: check-model <model.json> [<gateway.json>]");
            return ExitCode::from(2);
        }
    };
    let read =
        |path: &String| std::fs::read_to_string(path).map_err(|error| eprintln!("{path}: {error}"));
    let Ok(model_text) = read(model_path) else {
        return ExitCode::from(2);
    };
    let policy_text = match policy_path.map(read).transpose() {
        Ok(text) => text,
        Err(()) => return ExitCode::from(2),
    };
    let report = model::check(&model_text, policy_text.as_deref());
    match &report.model {
        Ok(model) => println!(
            "{model_path}: ok ({} permissions, {} operations, {} plans, {} presets)",
            model.permissions().count(),
            model.operations().count(),
            model.plans().count(),
            model.presets().count()
        ),
        Err(error) => {
            println!("{model_path}: {} problem(s)", error.problems.len());
            for problem in &error.problems {
                println!(
                    "  {} at {}: {}",
                    problem.code(),
                    if problem.path.is_empty() {
                        "/"
                    } else {
                        &problem.path
                    },
                    problem.kind
                );
            }
        }
    }
    if let Some(path) = policy_path {
        match &report.policy {
            None => println!("{path}: not checked (the model is invalid)"),
            Some(Ok(policy)) => {
                println!("{path}: ok ({} routes)", policy.routes().len());
                for name in &report.unrouted {
                    println!("  note: no route names operation `{name}`");
                }
            }
            Some(Err(error)) => {
                println!("{path}: {} problem(s)", error.problems.len());
                for problem in &error.problems {
                    println!("  {}: {problem}", problem.code());
                }
            }
        }
    }
    if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
