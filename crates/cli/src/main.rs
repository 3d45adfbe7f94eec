//! `portcullis`: a command-line client for the Portcullis Management API, over the same typed
//! client the Terraform provider uses (`portcullis-client`).
//!
//! Output is short text for people, or JSON on stdout with `--json` (the API's own shapes; the
//! audit tail as one event per line). Exit status: 0 when the call succeeded, 1 when the API
//! refused it or could not be reached (the problem's code and detail on stderr, and on stdout as
//! JSON with `--json`), 2 for a usage error. The token given with `--token` or
//! `PORTCULLIS_TOKEN` is never printed; a secret the API creates (a token, a key, an invitation
//! code) is printed once, when it is created.

mod output;

use clap::{Args, Parser, Subcommand};
use output::{Output, list, render};
use portcullis_client::time::parse_rfc3339;
use portcullis_client::{
    ApiError, AuditPage, Client, Invite, NewApiToken, NewAutomationKey, UserSearch,
};
use portcullis_core::audit::AuditEvent;
use portcullis_core::ids::DisplayName;
use portcullis_core::listing::ListQuery;
use portcullis_core::terms::Terms;
use portcullis_core::user::UserStatus;
use portcullis_core::{Email, KeyId, PermissionSet, SignUp, TenantId, UserId};
use serde_json::json;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

/// Manage a Portcullis account from the command line: sign up, invite members, issue API tokens
/// and automation keys, read the audit log.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, propagate_version = true)]
struct Cli {
    /// The worker's URL, e.g. `https://auth.example.com`
    #[arg(long, env = "PORTCULLIS_ENDPOINT", global = true)]
    endpoint: Option<String>,
    /// A personal API token (`pctk_…:pcts_…`); never printed
    #[arg(long, env = "PORTCULLIS_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Print JSON on stdout instead of text
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create an account with its first tenant and owner (needs the platform sign-up key)
    Signup(SignupArgs),
    /// Show who the token is and what it may do right now
    Whoami,
    /// The account's users and the tenant's members
    #[command(subcommand)]
    Users(UsersCommand),
    /// Personal API tokens of the caller
    #[command(subcommand)]
    Tokens(TokensCommand),
    /// A tenant's automation keys (build-only credentials)
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit log
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Args)]
struct SignupArgs {
    /// The platform sign-up key the worker was deployed with; never printed
    #[arg(long, env = "PORTCULLIS_SIGNUP_KEY", hide_env_values = true)]
    signup_key: Option<String>,
    /// The account's (company's) name
    #[arg(long)]
    account_name: String,
    /// The owner's email address
    #[arg(long)]
    owner_email: String,
    /// The owner's display name
    #[arg(long)]
    owner_name: String,
    /// The first tenant's name
    #[arg(long, default_value = "Production")]
    tenant_name: String,
    /// The first tenant's plan, as the served product model names it (e.g. `team`)
    #[arg(long)]
    plan: String,
    /// A trial account
    #[arg(long)]
    trial: bool,
}

/// Which tenant: the one given, else the token's own.
#[derive(Debug, Args)]
struct TenantArg {
    /// The tenant (`ten_…`); default: the tenant the token acts in
    #[arg(long)]
    tenant: Option<String>,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// The account's user directory (company admins)
    List {
        /// Only users whose email or a word of whose name starts with this
        #[arg(long)]
        search: Option<String>,
        /// Only users with this status: pending, active or inactive
        #[arg(long)]
        status: Option<String>,
        /// At most this many (1 to 200)
        #[arg(long)]
        limit: Option<usize>,
        /// Continue after a previous page's `next_cursor`
        #[arg(long)]
        cursor: Option<String>,
    },
    /// The tenant's members
    Members(TenantArg),
    /// One user of the account
    Show {
        /// The user (`usr_…`)
        user: String,
    },
    /// Invite someone into the tenant (or add a user the account knows); prints the invitation
    /// code once
    Invite {
        /// Their email address
        email: String,
        /// Their display name, for someone the account does not know yet
        #[arg(long)]
        name: Option<String>,
        /// A permission to grant in the tenant (repeat for more)
        #[arg(long = "permission", value_name = "PERMISSION")]
        permissions: Vec<String>,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// Block a user and every credential they own, in every tenant
    Deactivate {
        /// The user (`usr_…`)
        user: String,
    },
    /// Unblock an inactive user
    Activate {
        /// The user (`usr_…`)
        user: String,
    },
    /// Delete an inactive user
    Delete {
        /// The user (`usr_…`)
        user: String,
    },
    /// A new invitation code for a pending user (the previous one stops working)
    ResendInvitation {
        /// The user (`usr_…`)
        user: String,
    },
    /// Revoke a pending user's invitation (the user is deleted)
    RevokeInvitation {
        /// The user (`usr_…`)
        user: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokensCommand {
    /// Create a token of your own; prints its secret once
    Create {
        /// Its name
        #[arg(long)]
        name: String,
        /// A permission in its scope (repeat for more; none is read-only)
        #[arg(long = "permission", value_name = "PERMISSION")]
        permissions: Vec<String>,
        /// When it stops working (RFC 3339, e.g. 2027-01-31T00:00:00Z)
        #[arg(long)]
        expires_at: Option<String>,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// The tenant's tokens you may see
    List(TenantArg),
    /// One token
    Show {
        /// The token's id (`pctk_…`)
        key: String,
    },
    /// Delete a token
    Delete {
        /// The token's id (`pctk_…`)
        key: String,
    },
    /// Give a token a new secret (same id, scope and terms); prints it once
    Roll {
        /// The token's id (`pctk_…`)
        key: String,
        #[command(flatten)]
        overlap: OverlapArg,
    },
    /// A token's requests per day over the last 30 days
    Usage {
        /// The token's id (`pctk_…`)
        key: String,
    },
}

/// How long a rolled credential's previous secret keeps working.
#[derive(Debug, Args)]
struct OverlapArg {
    /// Seconds the previous secret keeps working (0 to 86400; 0: it stops at once)
    #[arg(long, default_value_t = 0)]
    overlap_seconds: u64,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an automation key; prints its secret once
    Create {
        /// Its name
        #[arg(long)]
        name: String,
        #[command(flatten)]
        tenant: TenantArg,
    },
    /// The tenant's automation keys
    List(TenantArg),
    /// One key
    Show {
        /// The key's id (`pcak_…`)
        key: String,
    },
    /// Delete a key
    Delete {
        /// The key's id (`pcak_…`)
        key: String,
    },
    /// Switch a key on
    Enable {
        /// The key's id (`pcak_…`)
        key: String,
    },
    /// Switch a key off (it stops working until enabled again)
    Disable {
        /// The key's id (`pcak_…`)
        key: String,
    },
    /// Give a key a new secret (same id and terms); prints it once
    Roll {
        /// The key's id (`pcak_…`)
        key: String,
        #[command(flatten)]
        overlap: OverlapArg,
    },
    /// A key's requests per day over the last 30 days
    Usage {
        /// The key's id (`pcak_…`)
        key: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// The newest events, oldest first; with --follow, then new ones as they come
    Tail {
        /// How many of the newest events
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
        /// Keep polling for new events (Ctrl-C stops)
        #[arg(long)]
        follow: bool,
        /// Seconds between polls with --follow
        #[arg(long, default_value_t = 2)]
        interval: u64,
        /// The account-level log (company admins) instead of a tenant's
        #[arg(long, conflicts_with = "tenant")]
        account: bool,
        #[command(flatten)]
        tenant: TenantArg,
    },
}

/// Why a command failed: its exit status follows from this.
#[derive(Debug)]
enum Failure {
    /// The command line asks for something that cannot be sent (exit 2).
    Usage(String),
    /// The API refused it or could not be asked (exit 1).
    Api(ApiError),
}

impl From<ApiError> for Failure {
    fn from(failure: ApiError) -> Self {
        Failure::Api(failure)
    }
}

/// The most audit events one page returns.
const AUDIT_PAGE: u32 = 200;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version are not errors; clap's usage errors exit 2.
            let _ = error.print();
            return ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(2));
        }
    };
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Api(failure)) => {
            output::failure(&failure, json);
            ExitCode::from(1)
        }
    }
}

/// Connects with the credential the command needs and runs it.
async fn run(cli: Cli) -> Result<(), Failure> {
    let Some(endpoint) = cli.endpoint.as_deref() else {
        return Err(Failure::Usage(
            "no endpoint: pass --endpoint or set PORTCULLIS_ENDPOINT".into(),
        ));
    };
    let agent = concat!("portcullis-cli/", env!("CARGO_PKG_VERSION"));
    if let Command::Signup(args) = &cli.command {
        let Some(key) = args.signup_key.as_deref() else {
            return Err(Failure::Usage(
                "sign-up needs the platform sign-up key: pass --signup-key or set PORTCULLIS_SIGNUP_KEY".into(),
            ));
        };
        let client = Client::connect(endpoint, Some(key), agent).await?;
        return signup(&client, args).await?.print(cli.json);
    }
    let Some(token) = cli.token.as_deref() else {
        return Err(Failure::Usage(
            "no token: pass --token or set PORTCULLIS_TOKEN".into(),
        ));
    };
    let client = Client::connect(endpoint, Some(token), agent).await?;
    match cli.command {
        Command::Signup(_) => Ok(()),
        Command::Whoami => whoami(&client).await?.print(cli.json),
        Command::Users(command) => users(&client, command).await?.print(cli.json),
        Command::Tokens(command) => tokens(&client, command).await?.print(cli.json),
        Command::Keys(command) => keys(&client, command).await?.print(cli.json),
        Command::Audit(AuditCommand::Tail {
            lines,
            follow,
            interval,
            account,
            tenant,
        }) => {
            let scope = match account {
                true => None,
                false => Some(tenant_of(&client, &tenant).await?),
            };
            let tail = Tail {
                client: &client,
                scope: scope.as_ref(),
                json: cli.json,
            };
            tail.run(lines, follow.then(|| Duration::from_secs(interval.max(1))))
                .await
        }
    }
}

/// `text` parsed as `T`, or a usage error naming `what` was expected.
fn parse<T: FromStr>(text: &str, what: &str) -> Result<T, Failure>
where
    T::Err: std::fmt::Display,
{
    text.trim()
        .parse()
        .map_err(|error| Failure::Usage(format!("{what}: {error}")))
}

/// Permission names as the served model names them.
fn permissions(client: &Client, names: &[String]) -> Result<PermissionSet, Failure> {
    let model = client.model();
    let mut set = PermissionSet::EMPTY;
    for name in names {
        let Some(permission) = model.permission(name.trim()) else {
            let known: Vec<&str> = model.permissions().map(|(_, def)| &*def.name).collect();
            return Err(Failure::Usage(format!(
                "`{name}` is not a permission of this product; it has: {}",
                known.join(", ")
            )));
        };
        set = set.with(permission);
    }
    Ok(set)
}

/// The tenant given, or the one the token acts in.
async fn tenant_of(client: &Client, tenant: &TenantArg) -> Result<TenantId, Failure> {
    match &tenant.tenant {
        Some(text) => parse(text, "--tenant"),
        None => Ok(client.whoami().await?.tenant_id),
    }
}

async fn signup(client: &Client, args: &SignupArgs) -> Result<Output, Failure> {
    let model = client.model();
    let Some(plan) = model.plan(args.plan.trim()) else {
        let known: Vec<&str> = model.plans().map(|(_, def)| &*def.name).collect();
        return Err(Failure::Usage(format!(
            "`{}` is not a plan of this product; it has: {}",
            args.plan,
            known.join(", ")
        )));
    };
    let sign_up = SignUp {
        account_name: parse::<DisplayName>(&args.account_name, "--account-name")?,
        owner_email: parse::<Email>(&args.owner_email, "--owner-email")?,
        owner_name: parse::<DisplayName>(&args.owner_name, "--owner-name")?,
        tenant_name: parse::<DisplayName>(&args.tenant_name, "--tenant-name")?,
        plan,
        trial: args.trial,
    };
    let signed_up = client.sign_up(&sign_up).await?;
    Ok(Output {
        json: json!({
            "account_id": signed_up.account_id,
            "tenant_id": signed_up.tenant_id,
            "owner_id": signed_up.owner_id,
            "key_id": signed_up.key_id,
            "token": signed_up.token.expose(),
        }),
        text: format!(
            "account {}\ntenant  {}\nowner   {}\ntoken   {}\n(the owner's first API token, shown once: store it now)",
            signed_up.account_id,
            signed_up.tenant_id,
            signed_up.owner_id,
            signed_up.token.expose()
        ),
    })
}

async fn whoami(client: &Client) -> Result<Output, Failure> {
    let principal = client.whoami().await?;
    let model = client.model();
    let who = match principal.kind.user_id() {
        Some(user) => format!("user {user}"),
        None => "an automation key".to_owned(),
    };
    let names = principal.permissions.names_in(model);
    Ok(Output {
        text: format!(
            "{who} in tenant {} (plan {}), with {}\npermissions: {}",
            principal.tenant_id,
            principal.plan.name_in(model),
            principal.kind.credential_id(),
            if names.is_empty() {
                "none (read-only)".to_owned()
            } else {
                names.join(", ")
            }
        ),
        json: render(model, &principal),
    })
}

async fn users(client: &Client, command: UsersCommand) -> Result<Output, Failure> {
    let model = client.model();
    let user = |text: &str| parse::<UserId>(text, "user id");
    let output = match command {
        UsersCommand::List {
            search,
            status,
            limit,
            cursor,
        } => {
            let status = status
                .map(|text| match text.trim() {
                    "pending" => Ok(UserStatus::Pending),
                    "active" => Ok(UserStatus::Active),
                    "inactive" => Ok(UserStatus::Inactive),
                    other => Err(Failure::Usage(format!(
                        "`{other}` is not a status; use pending, active or inactive"
                    ))),
                })
                .transpose()?;
            let search = UserSearch {
                search,
                status,
                limit,
                cursor,
            };
            let page = client.users(&search).await?;
            let lines = page.items.iter().map(|user| {
                format!(
                    "{}  {}  {}  {}",
                    user.user_id,
                    user.email.as_str(),
                    user.status,
                    user.name.as_str()
                )
            });
            list(model, &page, lines.collect())
        }
        UsersCommand::Members(tenant) => {
            let tenant = tenant_of(client, &tenant).await?;
            let page = client.members(&tenant, &ListQuery::default()).await?;
            let lines = page.items.iter().map(|member| {
                format!(
                    "{}  {}  {}  {}",
                    member.user_id,
                    member.email.as_str(),
                    member.status,
                    output::permissions(model, member.permissions)
                )
            });
            list(model, &page, lines.collect())
        }
        UsersCommand::Show { user: text } => {
            let found = client.user(&user(&text)?).await?;
            Output {
                text: format!(
                    "{}  {}  {}  {}{}",
                    found.user_id,
                    found.email.as_str(),
                    found.status,
                    found.name.as_str(),
                    if found.company_admin {
                        "  (company admin)"
                    } else {
                        ""
                    }
                ),
                json: render(model, &found),
            }
        }
        UsersCommand::Invite {
            email,
            name,
            permissions: names,
            tenant,
        } => {
            let tenant = tenant_of(client, &tenant).await?;
            let invite = Invite {
                email,
                name,
                permissions: permissions(client, &names)?,
            };
            let added = client.invite_member(&tenant, &invite).await?;
            let invitation = added.invitation.as_ref();
            Output {
                json: json!({
                    "user_id": added.user_id,
                    "tenant_id": tenant,
                    "status": added.status,
                    "invitation": invitation.map(|invitation| json!({
                        "code": invitation.code.expose(),
                        "expires_at": invitation.expires_at,
                    })),
                }),
                text: match invitation {
                    Some(invitation) => format!(
                        "invited {} ({}) into {tenant}\ninvitation code (shown once): {}\nexpires {}",
                        added.user_id,
                        added.status,
                        invitation.code.expose(),
                        output::time(invitation.expires_at)
                    ),
                    None => format!("added {} ({}) to {tenant}", added.user_id, added.status),
                },
            }
        }
        UsersCommand::Deactivate { user: text } => {
            let changed = client.deactivate_user(&user(&text)?).await?;
            Output {
                text: format!("{} is now {}", changed.user_id, changed.status),
                json: render(model, &changed),
            }
        }
        UsersCommand::Activate { user: text } => {
            let changed = client.activate_user(&user(&text)?).await?;
            Output {
                text: format!("{} is now {}", changed.user_id, changed.status),
                json: render(model, &changed),
            }
        }
        UsersCommand::Delete { user: text } => {
            let user = user(&text)?;
            client.delete_user(&user).await?;
            output::deleted(user.as_str())
        }
        UsersCommand::ResendInvitation { user: text } => {
            let resent = client.resend_invitation(&user(&text)?).await?;
            Output {
                json: json!({
                    "user_id": resent.user_id,
                    "invitation": {
                        "code": resent.invitation.code.expose(),
                        "expires_at": resent.invitation.expires_at,
                    },
                }),
                text: format!(
                    "new invitation code for {} (shown once): {}\nexpires {}",
                    resent.user_id,
                    resent.invitation.code.expose(),
                    output::time(resent.invitation.expires_at)
                ),
            }
        }
        UsersCommand::RevokeInvitation { user: text } => {
            let user = user(&text)?;
            client.revoke_invitation(&user).await?;
            output::deleted(user.as_str())
        }
    };
    Ok(output)
}

async fn tokens(client: &Client, command: TokensCommand) -> Result<Output, Failure> {
    let model = client.model();
    let key = |text: &str| parse::<KeyId>(text, "token id");
    let output = match command {
        TokensCommand::Create {
            name,
            permissions: names,
            expires_at,
            tenant,
        } => {
            let expires_at = expires_at
                .map(|text| parse_rfc3339(text.trim()).map_err(Failure::Usage))
                .transpose()?;
            let tenant = tenant_of(client, &tenant).await?;
            let token = NewApiToken {
                name,
                permissions: permissions(client, &names)?,
                terms: Terms {
                    expires_at,
                    ..Terms::default()
                },
            };
            let created = client.create_api_token(&tenant, &token).await?;
            let _in_force = model.enter();
            Output {
                json: json!({
                    "key_id": created.key_id,
                    "token": created.token.expose(),
                    "permissions": created.permissions,
                    "expires_at": created.expires_at,
                }),
                text: format!(
                    "created {} ({})\ntoken (shown once): {}",
                    created.key_id,
                    output::permissions(model, created.permissions),
                    created.token.expose()
                ),
            }
        }
        TokensCommand::List(tenant) => {
            let tenant = tenant_of(client, &tenant).await?;
            let page = client.api_tokens(&tenant, &ListQuery::default()).await?;
            let lines = page.items.iter().map(|token| {
                format!(
                    "{}  {}  {}  expires {}",
                    token.key_id,
                    token.name.as_str(),
                    output::permissions(model, token.permissions),
                    token
                        .terms
                        .expires_at
                        .map_or("never".to_owned(), output::time)
                )
            });
            list(model, &page, lines.collect())
        }
        TokensCommand::Show { key: text } => {
            let token = client.api_token(&key(&text)?).await?;
            Output {
                text: format!(
                    "{}  {}  owner {}  {}  effective {}",
                    token.key_id,
                    token.name.as_str(),
                    token.owner,
                    output::permissions(model, token.permissions),
                    output::permissions(model, token.effective_permissions)
                ),
                json: render(model, &token),
            }
        }
        TokensCommand::Delete { key: text } => {
            let key = key(&text)?;
            client.delete_api_token(&key).await?;
            output::deleted(key.as_str())
        }
        TokensCommand::Roll { key: text, overlap } => {
            let rolled = client
                .roll_api_token(&key(&text)?, overlap.overlap_seconds)
                .await?;
            output::rolled(
                &rolled.key_id,
                "token",
                &rolled.token,
                rolled.previous_valid_until,
            )
        }
        TokensCommand::Usage { key: text } => {
            output::usage(&client.api_token_usage(&key(&text)?).await?)
        }
    };
    Ok(output)
}

async fn keys(client: &Client, command: KeysCommand) -> Result<Output, Failure> {
    let model = client.model();
    let key = |text: &str| parse::<KeyId>(text, "automation key id");
    let switch = async |text: &str, enabled: bool| -> Result<Output, Failure> {
        let toggled = client
            .set_automation_key_enabled(&key(text)?, enabled)
            .await?;
        Ok(Output {
            text: format!(
                "{} is {}",
                toggled.key_id,
                if toggled.enabled {
                    "enabled"
                } else {
                    "disabled"
                }
            ),
            json: render(model, &toggled),
        })
    };
    let output = match command {
        KeysCommand::Create { name, tenant } => {
            let tenant = tenant_of(client, &tenant).await?;
            let created = client
                .create_automation_key(
                    &tenant,
                    &NewAutomationKey {
                        name,
                        terms: Terms::default(),
                    },
                )
                .await?;
            Output {
                json: json!({ "key_id": created.key_id, "key": created.key.expose() }),
                text: format!(
                    "created {}\nkey (shown once): {}",
                    created.key_id,
                    created.key.expose()
                ),
            }
        }
        KeysCommand::List(tenant) => {
            let tenant = tenant_of(client, &tenant).await?;
            let page = client
                .automation_keys(&tenant, &ListQuery::default())
                .await?;
            let lines = page.items.iter().map(|key| {
                format!(
                    "{}  {}  {}",
                    key.key_id,
                    key.name.as_str(),
                    if key.enabled { "enabled" } else { "disabled" }
                )
            });
            list(model, &page, lines.collect())
        }
        KeysCommand::Show { key: text } => {
            let found = client.automation_key(&key(&text)?).await?;
            Output {
                text: format!(
                    "{}  {}  {}  created by {}",
                    found.key_id,
                    found.name.as_str(),
                    if found.enabled { "enabled" } else { "disabled" },
                    found.created_by
                ),
                json: render(model, &found),
            }
        }
        KeysCommand::Delete { key: text } => {
            let key = key(&text)?;
            client.delete_automation_key(&key).await?;
            output::deleted(key.as_str())
        }
        KeysCommand::Enable { key: text } => switch(&text, true).await?,
        KeysCommand::Disable { key: text } => switch(&text, false).await?,
        KeysCommand::Roll { key: text, overlap } => {
            let rolled = client
                .roll_automation_key(&key(&text)?, overlap.overlap_seconds)
                .await?;
            output::rolled(
                &rolled.key_id,
                "key",
                &rolled.key,
                rolled.previous_valid_until,
            )
        }
        KeysCommand::Usage { key: text } => {
            output::usage(&client.automation_key_usage(&key(&text)?).await?)
        }
    };
    Ok(output)
}

/// `audit tail`: the newest events of a tenant's log (or the account's), then new ones.
struct Tail<'a> {
    client: &'a Client,
    /// The tenant; `None` for the account-level log.
    scope: Option<&'a TenantId>,
    json: bool,
}

impl Tail<'_> {
    async fn page(&self, from: u64) -> Result<AuditPage, ApiError> {
        match self.scope {
            Some(tenant) => self.client.audit(tenant, from, AUDIT_PAGE).await,
            None => self.client.account_audit(from, AUDIT_PAGE).await,
        }
    }

    /// Prints the newest `lines` events, then (with `follow`) polls for new ones every period.
    async fn run(&self, lines: usize, follow: Option<Duration>) -> Result<(), Failure> {
        // Sequence numbers are the account's (every log shares one chain), so the newest events
        // of one log are found by reading back from the chain's end, a window at a time.
        let length = self.page(0).await?.chain.length;
        let mut newest: Vec<AuditEvent> = Vec::new();
        let mut end = length;
        while newest.len() < lines && end > 0 {
            let start = end.saturating_sub(u64::from(AUDIT_PAGE));
            let mut window: Vec<AuditEvent> = self
                .page(start)
                .await?
                .items
                .into_iter()
                .filter(|event| event.body.sequence < end)
                .collect();
            window.append(&mut newest);
            newest = window;
            end = start;
        }
        let skip = newest.len().saturating_sub(lines);
        for event in newest.iter().skip(skip) {
            output::event(event, self.json);
        }
        let Some(period) = follow else {
            return Ok(());
        };
        let mut from = length;
        loop {
            tokio::time::sleep(period).await;
            let page = self.page(from).await?;
            for event in &page.items {
                output::event(event, self.json);
            }
            from = page.next_from.unwrap_or(from);
        }
    }
}
