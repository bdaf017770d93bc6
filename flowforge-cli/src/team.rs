//! What `who`, `active`, `tasks` and `report` share: opening the namespace index, printing
//! what it left out, and merging the view of other machines into the answers.

use std::ops::Deref;

use anyhow::anyhow;
use flowforge_index::{Index, Problem, StartedFrom};
use parking_lot::{MappedMutexGuard, MutexGuard};

use crate::{
    context::Context,
    error::CliResult,
    output::{Output, errln},
    warm::Engine,
};

/// The index a command reads: its own, or the daemon's warm one (locked while borrowed).
pub(crate) enum IndexRef<'a> {
    Owned(Box<Index>),
    Warm(MappedMutexGuard<'a, Index>),
}

impl Deref for IndexRef<'_> {
    type Target = Index;

    fn deref(&self) -> &Index {
        match self {
            IndexRef::Owned(index) => index,
            IndexRef::Warm(index) => index,
        }
    }
}

/// The index, current with every change made before the call: opened as [`open_cold`] does,
/// or the daemon's, synced through its watcher.
pub(crate) fn open_index<'a>(
    ctx: &Context,
    engine: Engine<'a>,
    out: &mut Output,
) -> CliResult<IndexRef<'a>> {
    match engine {
        Engine::InProcess => Ok(IndexRef::Owned(Box::new(open_cold(ctx, out)?))),
        Engine::Warm(warm) => {
            let mut state = warm.index.lock();
            warm.sync_index(&mut state, ctx.accept, &ctx.ages, || open_cold(ctx, out))?;
            let layout = ctx.layout.clone();
            Ok(IndexRef::Warm(MutexGuard::map(state, |state| {
                state.index.get_or_insert_with(|| Index::empty(&layout))
            })))
        }
    }
}

/// Opens the index from its snapshot (a full build when there is none or it is unusable),
/// refreshed, and saves the snapshot again when anything was reloaded. A snapshot that cannot
/// be saved costs the next run a rebuild, nothing more: it is a warning.
pub(crate) fn open_cold(ctx: &Context, out: &mut Output) -> CliResult<Index> {
    let opened = Index::open(&ctx.layout)?;
    let changed = opened.started_from != StartedFrom::Snapshot
        || !opened.refresh.reloaded.is_empty()
        || !opened.refresh.removed.is_empty()
        || opened.refresh.team_reloaded;
    if changed {
        if let Err(e) = opened.index.save_snapshot() {
            errln!(out, "flowforge: warning: {:#}", anyhow!(e));
        }
    }
    Ok(opened.index)
}

/// The `problems` array of the JSON outputs.
pub(crate) fn problems_json(problems: &[Problem]) -> Vec<crate::json::ProblemJson> {
    crate::json::problems(problems)
}

/// Text outputs list what was left out on stderr, one line each.
pub(crate) fn warn_problems(problems: &[Problem], out: &mut Output) {
    for p in problems {
        errln!(
            out,
            "flowforge: warning: left out {}: {}",
            p.path.display(),
            p.message
        );
    }
}

/// `--fresh` of the team queries.
#[derive(Debug, Clone, Copy, Default, clap::Args)]
pub(crate) struct RemoteArgs {
    /// With a remote in use: pull from it first (otherwise the last pull's view of other
    /// machines is used, and its age shown).
    #[arg(long)]
    pub fresh: bool,
}

/// Other machines' state as the last pull saw it: a read-only namespace root of its own,
/// opened as a second index and merged into the answers by the commands.
pub(crate) struct RemoteView {
    pub name: String,
    pub index: Index,
    pub pulled: flowforge_remote::Pulled,
    /// Claims of other machines, by task.
    pub claims: std::collections::BTreeMap<flowforge_core::TaskId, flowforge_remote::RemoteClaim>,
    layout: flowforge_core::Layout,
}

impl RemoteView {
    /// Seconds since the pull.
    pub(crate) fn age_seconds(&self) -> i64 {
        jiff::Timestamp::now().as_second() - self.pulled.pulled_at.as_second()
    }

    /// The machine of another machine's active session of `dev`.
    pub(crate) fn machine_of(&self, dev: &flowforge_core::DeveloperId) -> Option<String> {
        let session: flowforge_core::model::Session =
            flowforge_session::fs::read_json(self.layout.root(), &self.layout.current_session(dev))
                .ok()??;
        session.extra.get("machine")?.as_str().map(str::to_owned)
    }

    /// The `remote` member of the JSON outputs.
    pub(crate) fn json(&self) -> crate::json::RemoteJson {
        crate::json::RemoteJson {
            remote: self.name.clone(),
            pulled_at: self.pulled.pulled_at,
            age_seconds: self.age_seconds(),
        }
    }

    /// The last line of the text outputs.
    pub(crate) fn note(&self) -> String {
        format!(
            "other machines: as pulled from {} {} s ago",
            self.name,
            self.age_seconds()
        )
    }
}

/// The view of other machines when a remote is in use and has been pulled (with `--fresh`,
/// pulled now).
pub(crate) fn open_remote_view(
    ctx: &Context,
    args: RemoteArgs,
    engine: Engine<'_>,
    out: &mut Output,
) -> CliResult<Option<RemoteView>> {
    let remote = match engine {
        Engine::InProcess => ctx.remote()?,
        Engine::Warm(_) if !ctx.repo.join(".git").exists() => None,
        Engine::Warm(warm) => (warm.remote_config(ctx)?).map(|config| ctx.remote_with(config)),
    };
    let Some(remote) = remote else {
        if args.fresh {
            errln!(
                out,
                "flowforge: warning: --fresh: no remote in use, local state only"
            );
        }
        return Ok(None);
    };
    let pulled = if args.fresh {
        remote.pull(&ctx.layout)?
    } else {
        match flowforge_remote::last_pull(&ctx.layout, remote.name())? {
            Some(p) => p,
            None => return Ok(None),
        }
    };
    let layout =
        flowforge_core::Layout::new(flowforge_remote::view_root(&ctx.layout, remote.name()));
    let index = Index::build(&layout)?;
    let claims = (remote.pulled_claims()?.into_iter())
        .filter(|c| c.machine != remote.machine())
        .map(|c| (c.task.clone(), c))
        .collect();
    Ok(Some(RemoteView {
        name: remote.name().to_owned(),
        index,
        pulled,
        claims,
        layout,
    }))
}

/// A task row of a team answer (`who`, `tasks`, the report's tasks): its holder and who works
/// on it, merged the same way wherever other machines' rows meet this machine's.
pub(crate) trait TaskRow {
    fn task(&self) -> &flowforge_core::TaskId;
    fn working_mut(&mut self) -> &mut Vec<flowforge_core::DeveloperId>;
    /// Takes `other`'s claim when this row has none; whether it did.
    fn adopt_claim(&mut self, other: &mut Self) -> bool;
}

macro_rules! task_row {
    ($($row:ty),*) => {$(
        impl TaskRow for $row {
            fn task(&self) -> &flowforge_core::TaskId {
                &self.task
            }

            fn working_mut(&mut self) -> &mut Vec<flowforge_core::DeveloperId> {
                &mut self.working
            }

            fn adopt_claim(&mut self, other: &mut Self) -> bool {
                if self.holder.is_some() || other.holder.is_none() {
                    return false;
                }
                self.holder = other.holder.take();
                self.status = other.status.take();
                self.claimed_at = other.claimed_at.take();
                true
            }
        }
    )*};
}

task_row!(
    flowforge_index::TaskHolder,
    flowforge_index::report::TaskLine
);

/// Merges another machine's row of the same task into this machine's: a local holder is kept
/// (another machine's is taken only where there is none), the workers are united. Returns
/// whether the other machine's claim was taken.
pub(crate) fn merge_row<T: TaskRow>(mine: &mut T, mut theirs: T) -> bool {
    let adopted = mine.adopt_claim(&mut theirs);
    let working = mine.working_mut();
    working.append(theirs.working_mut());
    working.sort();
    working.dedup();
    adopted
}

/// Merges other machines' rows into this machine's ([`merge_row`] per task), sorted by task.
pub(crate) fn merge_rows<T: TaskRow>(mine: &mut Vec<T>, theirs: Vec<T>) {
    for row in theirs {
        match mine.iter_mut().find(|m| m.task() == row.task()) {
            Some(m) => {
                merge_row(m, row);
            }
            None => mine.push(row),
        }
    }
    mine.sort_by(|a, b| a.task().cmp(b.task()));
}
