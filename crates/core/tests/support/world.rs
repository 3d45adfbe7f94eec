//! The account world the rule tests drive: an account signed up by its owner, a fixed clock
//! and seeded randomness, and helpers that apply commands as someone.
#![allow(dead_code, reason = "each test crate uses some of the helpers")]

use portcullis_core::account::{Context, Outcome, Refusal, SignUp};
use portcullis_core::command::Command;
use portcullis_core::credential::Verification;
use portcullis_core::random::SeededRandom;
use portcullis_core::secret::Secret;
use portcullis_core::sso::{OidcSettings, SsoConnectionId, SsoProtocolSettings};
use portcullis_core::user::UserStatus;
use portcullis_core::{
    Account, Actor, Email, HashingKey, KeyId, PermissionSet, Plan, TenantId, Timestamp, UserId,
};

pub(crate) struct World {
    pub(crate) account: Account,
    pub(crate) key: HashingKey,
    pub(crate) random: SeededRandom,
    pub(crate) now: Timestamp,
    pub(crate) owner: UserId,
    pub(crate) tenant: TenantId,
    pub(crate) owner_token: String,
}

pub(crate) fn perms(names: &[&str]) -> PermissionSet {
    PermissionSet::parse_names(names).unwrap()
}

pub(crate) fn email(text: &str) -> Email {
    text.parse().unwrap()
}

impl World {
    pub(crate) fn new(plan: Plan) -> Self {
        Self::seeded(plan, 11)
    }

    /// A world whose ids come from `seed` (another seed, another account).
    pub(crate) fn seeded(plan: Plan, seed: u64) -> Self {
        let key = HashingKey::from_bytes(&[3; 32]).unwrap();
        let mut random = SeededRandom::new(seed);
        let now = Timestamp::from_unix_seconds(1_700_000_000);
        let signed_up = Account::sign_up(
            SignUp {
                account_name: "Acme".parse().unwrap(),
                owner_email: email("owner@acme.test"),
                owner_name: "Olive Owner".parse().unwrap(),
                tenant_name: "Production".parse().unwrap(),
                plan,
                trial: false,
            },
            &mut Context {
                now,
                random: &mut random,
                key: &key,
            },
        );
        World {
            owner: signed_up.owner_id,
            tenant: signed_up.tenant_id,
            owner_token: signed_up.token.secret.expose().to_owned(),
            account: signed_up.account,
            key,
            random,
            now,
        }
    }

    pub(crate) fn apply(&mut self, actor: &Actor, command: Command) -> Result<Outcome, Refusal> {
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        self.account.apply(actor, command, &mut context)
    }

    /// Applies a command that must be refused, and checks that nothing changed.
    pub(crate) fn refused(&mut self, actor: &Actor, command: Command) -> Refusal {
        let before = self.account.clone();
        let refusal = self
            .apply(actor, command)
            .expect_err("command should be refused");
        assert_eq!(
            self.account, before,
            "a refused command changed the account"
        );
        refusal
    }

    pub(crate) fn owner(&self) -> Actor {
        Actor::user(self.owner.clone())
    }

    /// The key id of the owner's first token.
    pub(crate) fn owner_key(&self) -> KeyId {
        self.owner_token.split(':').next().unwrap().parse().unwrap()
    }

    pub(crate) fn invite(&mut self, address: &str, permissions: PermissionSet) -> (UserId, String) {
        let tenant = self.tenant.clone();
        self.invite_into(&tenant, address, permissions)
    }

    pub(crate) fn accept(&mut self, address: &str, code: &str) -> Result<Outcome, Refusal> {
        let mut context = Context {
            now: self.now,
            random: &mut self.random,
            key: &self.key,
        };
        self.account
            .accept_invitation(&email(address), code, None, &mut context)
    }

    /// An active member with `permissions`.
    pub(crate) fn member(&mut self, address: &str, permissions: PermissionSet) -> UserId {
        let (user_id, code) = self.invite(address, permissions);
        self.accept(address, &code).unwrap();
        user_id
    }

    /// A new OpenID Connect connection of the account, created by the owner.
    pub(crate) fn sso_connection(&mut self) -> SsoConnectionId {
        let create = Command::CreateSsoConnection {
            name: "Okta".parse().unwrap(),
            protocol: SsoProtocolSettings::Oidc(OidcSettings {
                issuer: "https://idp.acme.test".parse().unwrap(),
                client_id: "portcullis".parse().unwrap(),
                client_secret: Secret::new("client-secret".into()),
            }),
            allow_jit_provisioning: false,
        };
        let Outcome::SsoConnectionCreated { connection } =
            self.apply(&self.owner(), create).unwrap()
        else {
            panic!("no connection")
        };
        connection.connection_id
    }

    /// An active member holding every permission, made a company admin by the owner.
    pub(crate) fn company_admin(&mut self, address: &str) -> UserId {
        let admin = self.member(address, PermissionSet::all());
        let grant = Command::SetCompanyAdmin {
            user_id: admin.clone(),
            company_admin: true,
        };
        self.apply(&self.owner(), grant).unwrap();
        admin
    }

    /// A new tenant on `plan`, launched (and so owned) by `admin`, a company admin.
    pub(crate) fn launch_tenant(&mut self, admin: &UserId, name: &str, plan: Plan) -> TenantId {
        let launch = Command::CreateTenant {
            name: name.parse().unwrap(),
            plan,
        };
        match self.apply(&Actor::user(admin.clone()), launch).unwrap() {
            Outcome::TenantCreated { tenant_id } => tenant_id,
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    pub(crate) fn token(&mut self, actor: &Actor, permissions: PermissionSet) -> (KeyId, String) {
        let command = Command::CreateApiToken {
            tenant_id: self.tenant.clone(),
            name: "ci".parse().unwrap(),
            permissions,
            terms: portcullis_core::terms::Terms::default(),
        };
        match self.apply(actor, command).unwrap() {
            Outcome::ApiTokenCreated { key_id, token, .. } => (key_id, token.expose().to_owned()),
            other => panic!("unexpected outcome {other:?}"),
        }
    }

    pub(crate) fn verify(&self, presented: &str) -> Verification {
        self.account.verify(presented, &self.key, self.now, None)
    }

    pub(crate) fn status(&self, user: &UserId) -> UserStatus {
        self.account.user(user).unwrap().status
    }

    /// Invites `address` into `tenant` as the owner: the user and their code (empty when the
    /// user exists and is not pending, so no code was issued).
    pub(crate) fn invite_into(
        &mut self,
        tenant: &TenantId,
        address: &str,
        permissions: PermissionSet,
    ) -> (UserId, String) {
        let command = Command::InviteMember {
            tenant_id: tenant.clone(),
            email: email(address),
            name: None,
            permissions,
        };
        match self.apply(&self.owner(), command).unwrap() {
            Outcome::MemberAdded {
                user_id,
                invitation,
                ..
            } => {
                let code = invitation
                    .map(|i| i.code.expose().to_owned())
                    .unwrap_or_default();
                (user_id, code)
            }
            other => panic!("unexpected outcome {other:?}"),
        }
    }
}
