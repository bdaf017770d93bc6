//! `flowforge dev init|list|status|clean|switch`.

use std::ffi::OsString;

use clap::Subcommand;
use flowforge_core::{DeveloperId, model::DeveloperInfo};
use flowforge_session::namespace;
use serde::Serialize;

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, outln},
};

#[derive(Debug, Subcommand)]
pub(crate) enum DevCommand {
    /// Create a developer's namespace and register the developer in team/config.json.
    Init {
        /// The developer id: 1-50 characters of A-Z a-z 0-9 _ -, not starting with '-'.
        id: OsString,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// E-mail address.
        #[arg(long)]
        email: Option<String>,
        /// Role in the team.
        #[arg(long)]
        role: Option<String>,
    },
    /// List the team's developers.
    List {
        /// Print JSON: {"developers": [{"id", "name", "email", "role", "namespace"}]}.
        #[arg(long)]
        json: bool,
    },
    /// The developer's namespace: session, time, cache, logs and temporary files, claims.
    Status(crate::dev_status::StatusArgs),
    /// Remove the developer's cache (the default), logs or temporary files.
    Clean(crate::dev_clean::CleanArgs),
    /// Make a developer this work tree's default (stored in .flowforge/.namespace-env);
    /// --dev and the environment still win.
    Switch {
        /// The developer id (its namespace must exist).
        id: OsString,
    },
}

pub(crate) fn run(ctx: &Context, command: DevCommand, out: &mut Output) -> CliResult {
    match command {
        DevCommand::Status(args) => crate::dev_status::run(ctx, &args, out),
        DevCommand::Clean(args) => crate::dev_clean::run(ctx, &args, out),
        DevCommand::Switch { id } => {
            let id = DeveloperId::from_os_str(&id)?;
            flowforge_session::switch::set_default_developer(&ctx.layout, &id)?;
            outln!(
                out,
                "{id} is the default developer of {} (--dev and FLOWFORGE_DEVELOPER still win)",
                ctx.repo.display()
            );
            if let Some(other) = ctx.env_developer().filter(|o| *o != id.as_str()) {
                crate::output::errln!(
                    out,
                    "flowforge: note: this shell's environment names {}, which wins over it",
                    other.to_string_lossy()
                );
            }
            Ok(())
        }
        DevCommand::Init {
            id,
            name,
            email,
            role,
        } => {
            // Validate before touching the disk: an invalid id writes nothing.
            let id = DeveloperId::from_os_str(&id)?;
            let info = DeveloperInfo {
                name,
                email,
                role,
                ..Default::default()
            };
            let outcome = namespace::init(&ctx.layout, &id, &info)?;
            let what = match (outcome.created_namespace, outcome.registration_changed) {
                (true, _) => "created namespace",
                (false, true) => "updated registration of",
                (false, false) => "already initialised:",
            };
            outln!(out, "{what} {id} at {}", ctx.layout.dev_dir(&id).display());
            crate::migrate::hint(ctx, &id, out);
            Ok(())
        }
        DevCommand::List { json } => {
            let members = namespace::members(&ctx.layout)?;
            if json {
                let json = DevListJson {
                    developers: members
                        .iter()
                        .map(|m| {
                            let info = m.info.clone().unwrap_or_default();
                            DevListEntry {
                                id: m.id.clone(),
                                name: info.name,
                                email: info.email,
                                role: info.role,
                                registered: m.info.is_some(),
                                namespace: m.has_namespace,
                            }
                        })
                        .collect(),
                };
                outln!(out, "{}", crate::json::to_string(&json)?);
            } else if members.is_empty() {
                outln!(out, "no developers (run `flowforge dev init <id>`)");
            } else {
                for m in &members {
                    let info = m.info.clone().unwrap_or_default();
                    let mut line = m.id.to_string();
                    if let Some(name) = &info.name {
                        line.push_str(&format!("\t{name}"));
                    }
                    if let Some(email) = &info.email {
                        line.push_str(&format!(" <{email}>"));
                    }
                    if let Some(role) = &info.role {
                        line.push_str(&format!("\t{role}"));
                    }
                    if m.info.is_none() {
                        line.push_str("\t(not registered in team/config.json)");
                    }
                    if !m.has_namespace {
                        line.push_str("\t(no namespace directory)");
                    }
                    outln!(out, "{line}");
                }
            }
            Ok(())
        }
    }
}

/// `dev list --json`.
#[derive(Debug, Serialize)]
pub(crate) struct DevListJson {
    /// The team's developers, sorted by id.
    developers: Vec<DevListEntry>,
}

/// One developer of [`DevListJson::developers`].
#[derive(Debug, Serialize)]
pub(crate) struct DevListEntry {
    /// The developer id.
    id: DeveloperId,
    /// Display name.
    name: Option<String>,
    /// E-mail address.
    email: Option<String>,
    /// Role.
    role: Option<String>,
    /// Whether `team/config.json` registers the developer.
    registered: bool,
    /// Whether `dev-<id>/` exists.
    namespace: bool,
}
