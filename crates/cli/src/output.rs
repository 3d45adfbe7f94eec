//! What the CLI prints: short text for people, or JSON (the API's own shapes) on stdout.

use crate::Failure;
use portcullis_client::ApiError;
use portcullis_client::Secret;
use portcullis_client::time::format_rfc3339;
use portcullis_core::audit::AuditEvent;
use portcullis_core::listing::ListPage;
use portcullis_core::model::Model;
use portcullis_core::query::UsageView;
use portcullis_core::{KeyId, PermissionSet, Timestamp};
use serde::Serialize;
use serde_json::{Value, json};
use std::io::Write;
use std::sync::Arc;

/// A command's result in both forms.
#[derive(Debug)]
pub struct Output {
    /// For `--json`.
    pub json: Value,
    /// For people.
    pub text: String,
}

impl Output {
    /// Prints the form asked for on stdout.
    pub fn print(self, json: bool) -> Result<(), Failure> {
        let mut stdout = std::io::stdout().lock();
        let written = if json {
            writeln!(stdout, "{}", self.json)
        } else {
            writeln!(stdout, "{}", self.text)
        };
        // A closed stdout (`| head`) is not the API's failure; there is nothing left to say.
        let _ = written;
        Ok(())
    }
}

/// `value` as JSON, with the served model in force (it names permissions and plans).
pub fn render<T: Serialize>(model: &Arc<Model>, value: &T) -> Value {
    let _in_force = model.enter();
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A page of a list: its JSON, or a line per item (and where the next page starts).
pub fn list<T: Serialize>(model: &Arc<Model>, page: &ListPage<T>, lines: Vec<String>) -> Output {
    let mut text = if lines.is_empty() {
        "(none)".to_owned()
    } else {
        lines.join("\n")
    };
    if let Some(cursor) = &page.next_cursor {
        text.push_str(&format!("\n(more: --cursor {cursor})"));
    }
    Output {
        json: render(model, page),
        text,
    }
}

/// What a deletion prints.
pub fn deleted(id: &str) -> Output {
    Output {
        json: json!({ "deleted": id }),
        text: format!("deleted {id}"),
    }
}

/// A rolled credential: its id and new secret (shown once), and until when the previous works.
pub fn rolled(
    key_id: &KeyId,
    what: &str,
    secret: &Secret,
    previous_valid_until: Option<Timestamp>,
) -> Output {
    let previous = previous_valid_until.map_or("the previous one stopped".to_owned(), |until| {
        format!("the previous one works until {}", time(until))
    });
    Output {
        json: json!({
            "key_id": key_id,
            what: secret.expose(),
            "previous_valid_until": previous_valid_until,
        }),
        text: format!(
            "rolled {key_id}; {previous}\n{what} (shown once): {}",
            secret.expose()
        ),
    }
}

/// A credential's requests per day: the days with requests, then the total.
pub fn usage(usage: &UsageView) -> Output {
    let mut lines: Vec<String> = usage
        .days
        .iter()
        .filter(|day| day.requests > 0)
        .map(|day| {
            format!(
                "{}  {}",
                time(day.day).get(..10).unwrap_or_default(),
                day.requests
            )
        })
        .collect();
    lines.push(format!(
        "{} requests in the last {} days",
        usage.total,
        usage.days.len()
    ));
    Output {
        json: serde_json::to_value(usage).unwrap_or(Value::Null),
        text: lines.join("\n"),
    }
}

/// Permission names, or that there are none.
pub fn permissions(model: &Model, permissions: PermissionSet) -> String {
    let names = permissions.names_in(model);
    if names.is_empty() {
        "read-only".to_owned()
    } else {
        names.join(",")
    }
}

/// A time for people.
pub fn time(at: Timestamp) -> String {
    format_rfc3339(at).unwrap_or_else(|| at.unix_seconds().to_string())
}

/// One audit event: a JSON line, or a line of text.
pub fn event(event: &AuditEvent, json: bool) {
    let line = if json {
        serde_json::to_string(event).unwrap_or_default()
    } else {
        let body = &event.body;
        let actor = body
            .actor
            .as_ref()
            .map_or_else(|| "system".to_owned(), ToString::to_string);
        let mut line = format!(
            "#{}  {}  {}  {}  by {actor}",
            body.sequence,
            time(body.at),
            body.action,
            body.target
        );
        if !body.detail.is_empty() {
            line.push_str(&format!("  {}", body.detail));
        }
        line
    };
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// A failed call: on stderr for people, and as JSON on stdout with `--json`.
pub fn failure(failure: &ApiError, json: bool) {
    match failure {
        ApiError::Problem {
            status,
            code,
            detail,
        } => {
            eprintln!("error: {code} ({status}): {detail}");
            if json {
                let problem = json!({ "status": status, "code": code, "detail": detail });
                let _ = writeln!(std::io::stdout().lock(), "{problem}");
            }
        }
        other => {
            eprintln!("error: {other}");
            if json {
                let problem =
                    json!({ "status": other.status(), "code": null, "detail": other.to_string() });
                let _ = writeln!(std::io::stdout().lock(), "{problem}");
            }
        }
    }
}
