//! What a write costs as the account grows (issue 13): one command applied and its change set
//! computed (`Account::changes_since`, what the Durable Object writes), at 10, 100, 1,000 and
//! 10,000 active members (100 members per tenant, each with one API token), plus loading the
//! largest account from its rows (the Durable Object's cold load, JSON parsing included).
//!
//! ```sh
//! cargo bench -p portcullis-core --bench account
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "benchmark code"
)]

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use portcullis_core::account::{Context, Outcome, Row, SignUp};
use portcullis_core::command::Command;
use portcullis_core::directory::DirectoryQuery;
use portcullis_core::random::SeededRandom;
use portcullis_core::{Account, Actor, HashingKey, PermissionSet, TenantId, Timestamp, UserId};
use std::hint::black_box;

const PER_TENANT: usize = 100;

struct Grown {
    account: Account,
    owner: Actor,
    tenant: TenantId,
    member: UserId,
    key: HashingKey,
}

fn apply(
    account: &mut Account,
    actor: &Actor,
    command: Command,
    key: &HashingKey,
    seed: u64,
) -> Outcome {
    let mut random = SeededRandom::new(seed);
    let mut context = Context {
        now: Timestamp::from_unix_seconds(1_760_000_000),
        random: &mut random,
        key,
    };
    account.apply(actor, command, &mut context).unwrap()
}

/// An enterprise account of `members` active members (the tenant owners included), each holding
/// one API token.
fn grow(members: usize) -> Grown {
    let key = HashingKey::from_bytes(&[9; 32]).unwrap();
    let mut random = SeededRandom::new(1);
    let signed_up = Account::sign_up(
        SignUp {
            account_name: "Scale".parse().unwrap(),
            owner_email: "owner@scale.test".parse().unwrap(),
            owner_name: "Owner".parse().unwrap(),
            tenant_name: "Tenant 0".parse().unwrap(),
            plan: portcullis_core::Plan::named("enterprise").unwrap(),
            trial: false,
        },
        &mut Context {
            now: Timestamp::from_unix_seconds(1_760_000_000),
            random: &mut random,
            key: &key,
        },
    );
    let mut account = signed_up.account;
    let owner = Actor::user(signed_up.owner_id);
    let mut tenants = vec![signed_up.tenant_id];
    let mut seed = 10;
    let mut member = None;
    for n in 1..members {
        if n % PER_TENANT == 0 {
            seed += 1;
            let created = apply(
                &mut account,
                &owner,
                Command::CreateTenant {
                    name: format!("Tenant {}", tenants.len()).parse().unwrap(),
                    plan: portcullis_core::Plan::named("enterprise").unwrap(),
                },
                &key,
                seed,
            );
            let Outcome::TenantCreated { tenant_id } = created else {
                panic!("{created:?}")
            };
            tenants.push(tenant_id);
            continue;
        }
        let tenant = tenants.last().unwrap().clone();
        let email: portcullis_core::Email = format!("m{n}@scale.test").parse().unwrap();
        seed += 1;
        let invited = apply(
            &mut account,
            &owner,
            Command::InviteMember {
                tenant_id: tenant.clone(),
                email: email.clone(),
                name: None,
                permissions: PermissionSet::parse_names(["build_applications"]).unwrap(),
            },
            &key,
            seed,
        );
        let Outcome::MemberAdded {
            user_id,
            invitation: Some(invitation),
            ..
        } = invited
        else {
            panic!("{invited:?}")
        };
        seed += 1;
        let mut random = SeededRandom::new(seed);
        account
            .accept_invitation(
                &email,
                invitation.code.expose(),
                None,
                &mut Context {
                    now: Timestamp::from_unix_seconds(1_760_000_000),
                    random: &mut random,
                    key: &key,
                },
            )
            .unwrap();
        seed += 1;
        apply(
            &mut account,
            &Actor::user(user_id.clone()),
            Command::CreateApiToken {
                tenant_id: tenant,
                name: "ci".parse().unwrap(),
                permissions: PermissionSet::EMPTY,
                terms: portcullis_core::terms::Terms::default(),
            },
            &key,
            seed,
        );
        member = Some(user_id);
    }
    let _ = account.drain_audit();
    let _ = account.drain_notifications();
    Grown {
        account,
        owner,
        tenant: tenants.last().unwrap().clone(),
        member: member.unwrap(),
        key,
    }
}

/// Applies `command` to a copy of the account and computes what to write.
fn write(grown: &Grown, command: &Command) -> usize {
    let mut account = grown.account.clone();
    apply(&mut account, &grown.owner, command.clone(), &grown.key, 7);
    let _ = account.drain_audit();
    let _ = account.drain_notifications();
    account.changes_since(&grown.account).unwrap().rows.len()
}

fn bench(c: &mut Criterion) {
    for members in [10, 100, 1_000, 10_000] {
        let grown = grow(members);
        let mut group = c.benchmark_group(format!("account_{members}_members"));
        let change = Command::ChangePermissions {
            tenant_id: grown.tenant.clone(),
            user_id: grown.member.clone(),
            permissions: PermissionSet::parse_names(["build_applications", "update_certificates"])
                .unwrap(),
        };
        group.bench_function("change_permissions", |b| {
            b.iter(|| black_box(write(&grown, &change)))
        });
        let token = Command::CreateApiToken {
            tenant_id: grown.tenant.clone(),
            name: "bench".parse().unwrap(),
            permissions: PermissionSet::EMPTY,
            terms: portcullis_core::terms::Terms::default(),
        };
        group.bench_function("create_api_token", |b| {
            b.iter(|| black_box(write(&grown, &token)))
        });
        let rename = Command::RenameUser {
            user_id: grown.member.clone(),
            name: "Renamed".parse().unwrap(),
        };
        group.bench_function("rename_user", |b| {
            b.iter(|| black_box(write(&grown, &rename)))
        });
        // A read: the directory's first page of 50 by name, and the page after it.
        let first = DirectoryQuery::from_parameters([("sort", "name")]).unwrap();
        let now = Timestamp::from_unix_seconds(1_760_000_000);
        let page = |query: &DirectoryQuery| {
            grown
                .account
                .view_directory(&grown.owner, query, &grown.key, now)
                .unwrap()
        };
        let second = DirectoryQuery {
            cursor: page(&first).next_cursor,
            ..first.clone()
        };
        group.bench_function("directory_page", |b| {
            b.iter(|| black_box(page(&first).items.len()))
        });
        if second.cursor.is_some() {
            group.bench_function("directory_next_page", |b| {
                b.iter(|| black_box(page(&second).items.len()))
            });
        }
        if members == 10_000 {
            let rows: Vec<Row> = grown.account.to_rows().unwrap();
            let bytes: usize = rows.iter().map(|row| row.value.len()).sum();
            let largest = rows.iter().map(|row| row.value.len()).max().unwrap();
            eprintln!(
                "{members} members: {} rows, {bytes} bytes, largest row {largest} bytes",
                rows.len()
            );
            group.sample_size(10);
            group.bench_function("load_from_rows", |b| {
                b.iter_batched(
                    || rows.clone(),
                    |rows| black_box(Account::from_rows(rows).unwrap()),
                    BatchSize::LargeInput,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
