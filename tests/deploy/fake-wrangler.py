#!/usr/bin/env python3
"""A stand-in for wrangler's Cloudflare calls, for scripts/test-deploy: keeps the account's KV
namespaces, each Worker's secret names and every deploy (deploy-N.json, in order) under FAKE_WRANGLER_STATE, and answers in
wrangler's output formats (JSON lists; the workers.dev URL on deploy). With
FAKE_WRANGLER_SECRET_LIST_ERROR set, `secret list` fails with that message."""
import json
import os
import pathlib
import sys

state = pathlib.Path(os.environ["FAKE_WRANGLER_STATE"])
namespaces_file = state / "namespaces.json"


def load(path, default):
    return json.loads(path.read_text()) if path.exists() else default


def option(args, name):
    return args[args.index(name) + 1] if name in args else None


def secrets_of(worker):
    """Where the secrets of one Worker are kept."""
    return state / f"secrets-{worker}.json"


args = sys.argv[1:]
with (state / "calls.log").open("a") as log:
    log.write(" ".join(args) + "\n")
namespaces = load(namespaces_file, [])
if args[:3] == ["kv", "namespace", "list"]:
    print(json.dumps(namespaces))
elif args[:3] == ["kv", "namespace", "create"]:
    namespace = {"id": f"{len(namespaces) + 1:032x}", "title": args[3]}
    namespaces_file.write_text(json.dumps(namespaces + [namespace]))
    print(f'Created namespace {args[3]} with id "{namespace["id"]}"')
elif args[:2] == ["secret", "list"] and os.environ.get("FAKE_WRANGLER_SECRET_LIST_ERROR"):
    sys.exit(os.environ["FAKE_WRANGLER_SECRET_LIST_ERROR"])
elif args[:2] == ["secret", "list"]:
    name = option(args, "--name")
    secrets_file = secrets_of(name)
    if not secrets_file.exists():
        sys.exit(f'✘ [ERROR] Worker "{name}" not found.\n\nIf this is a new Worker, run `wrangler deploy` first to create it.')
    print(json.dumps([{"name": name, "type": "secret_text"} for name in load(secrets_file, {})]))
elif args[:1] == ["deploy"]:
    config = option(args, "-c")
    text = pathlib.Path(config).read_text()
    name = json.loads(text[text.index("{"):])["name"]
    secrets_file = secrets_of(name)
    uploaded = option(args, "--secrets-file")
    secrets = load(secrets_file, {})
    if uploaded:
        secrets.update(json.loads(pathlib.Path(uploaded).read_text()))
    secrets_file.write_text(json.dumps(secrets))
    deploys = len(list(state.glob("deploy-*.json")))
    (state / f"deploy-{deploys + 1}.json").write_text(json.dumps({
        "name": name, "config": text, "secrets": secrets,
        "prebuilt": os.environ.get("PORTCULLIS_PREBUILT", "")}))
    print("Total Upload: 6452.09 KiB / gzip: 2160.50 KiB")
    print(f"Deployed {name} triggers (0.42 sec)\n  https://{name}.example-team.workers.dev")
else:
    sys.exit(f"fake wrangler: unexpected call {args}")
