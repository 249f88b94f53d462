//! Carrying out the operator's [`Control`]s on a running herd: checks them against the
//! topology, changes the fault board, the servers or the traffic, logs and announces what
//! changed, and schedules the healing of faults given `for`.

use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use super::control::{
    Applied, Control, ControlError, Delay, Directed, Links, fmt_duration, link_name,
};
use super::events::{EventKind, ServerId};
use super::faults::{Kind, Record, Setting};
use super::{HerdHandle, bind, launch, stop};

impl HerdHandle {
    /// Applies one control: what changed (or why nothing needed to), or why it cannot be
    /// applied. Every change is logged by the servers it concerns and announced as a
    /// [`EventKind::Controlled`] event.
    pub async fn apply(&self, control: Control) -> Result<Applied, ControlError> {
        let applied = match &control {
            Control::Kill { server } => self.kill(*server).await?,
            Control::Restart { server } => self.restart(*server).await?,
            Control::Hang { server, lasting } => {
                self.check_server(*server)?;
                let record = self.shared.board.record(self.describe(&control), *lasting);
                self.hang(*server, Some(record))?
            }
            Control::Unhang { server } => self.hang(*server, None)?,
            Control::Cut { links, lasting } => {
                self.set_links(links, Setting::Cut, &control, *lasting)?
            }
            Control::Heal { links } => self.lift_links(links, Kind::Cut, "is not cut")?,
            Control::HealAll => {
                let cut: Vec<Directed> =
                    self.directed().filter(|&l| self.has(l, Kind::Cut)).collect();
                if cut.is_empty() {
                    Applied::unchanged("no link is cut")
                } else {
                    self.lift_links(&cut, Kind::Cut, "is not cut")?;
                    Applied::changed(format!("healed {} cut link directions", cut.len()))
                }
            }
            Control::Partition { groups, lasting } => {
                let links = self.partition_links(groups)?;
                self.set_links(&links, Setting::Cut, &control, *lasting)?
            }
            Control::Isolate { server, lasting } => {
                self.check_server(*server)?;
                let links: Vec<Directed> =
                    self.directed().filter(|l| l.from == *server || l.to == *server).collect();
                self.set_links(&links, Setting::Cut, &control, *lasting)?
            }
            Control::Delay { links: Links::All, delay, lasting } => {
                check_delay(*delay)?;
                self.delay_all(*delay, &control, *lasting)
            }
            Control::Delay { links: Links::Some(links), delay, lasting } => {
                check_delay(*delay)?;
                if delay.delay.is_zero() && delay.jitter.is_zero() {
                    self.lift_links(links, Kind::Delay, "has no delay of its own")?
                } else {
                    self.set_links(links, Setting::Delay(*delay), &control, *lasting)?
                }
            }
            Control::Loss { links, loss, lasting } => {
                check_rate(loss.rate)?;
                if !(loss.burst >= 1.0 && loss.burst.is_finite()) {
                    return Err(ControlError::Invalid(format!("burst {} is below 1", loss.burst)));
                }
                if loss.rate == 0.0 {
                    self.lift_links(links, Kind::Loss, "has no loss")?
                } else {
                    self.set_links(links, Setting::Loss(*loss), &control, *lasting)?
                }
            }
            Control::Dup { links, rate, lasting } => {
                check_rate(*rate)?;
                if *rate == 0.0 {
                    self.lift_links(links, Kind::Dup, "duplicates nothing")?
                } else {
                    self.set_links(links, Setting::Dup(*rate), &control, *lasting)?
                }
            }
            Control::Reset => self.reset(),
            Control::Pause => self.pause(),
            Control::Step => self.step(),
            Control::Resume => self.resume(),
            Control::Policy { policy } => {
                let mut current = self.shared.policy.lock().unwrap_or_else(PoisonError::into_inner);
                if *current == *policy {
                    Applied::unchanged(format!("the policy is already {policy}"))
                } else {
                    *current = *policy;
                    self.shared.off_spec.store(!policy.is_spec(), Ordering::Relaxed);
                    let spec = if policy.is_spec() { "" } else { " (off-spec)" };
                    Applied::changed(format!("policy {policy}{spec}"))
                }
            }
            Control::AntiEntropy { every } => self.set_anti_entropy(*every)?,
            Control::Faults => return Ok(Applied::Faults { faults: self.shared.board.active() }),
        };
        if let Applied::Changed { text } = &applied {
            let (control, text) = (control.clone(), text.clone());
            self.shared.events.emit(|| EventKind::Controlled { control, text });
        }
        Ok(applied)
    }

    fn describe(&self, control: &Control) -> String {
        control.describe(&self.shared.names)
    }

    fn directed(&self) -> impl Iterator<Item = Directed> + '_ {
        let mut links: Vec<Directed> =
            self.shared.stats.keys().map(|&(from, to)| Directed::new(from, to)).collect();
        links.sort_unstable();
        links.into_iter()
    }

    fn has(&self, link: Directed, kind: Kind) -> bool {
        self.shared.board.has(link, kind)
    }

    fn server_name(&self, id: ServerId) -> String {
        super::control::server_name(id, &self.shared.names)
    }

    fn check_server(&self, id: ServerId) -> Result<(), ControlError> {
        if id < self.shared.names.len() {
            Ok(())
        } else {
            Err(ControlError::NoSuchServer(format!("#{id}")))
        }
    }

    fn check_links(&self, links: &[Directed]) -> Result<(), ControlError> {
        for &link in links {
            self.check_server(link.from)?;
            self.check_server(link.to)?;
            if !self.shared.board.has_link(link) {
                let (a, b) = (self.server_name(link.from), self.server_name(link.to));
                return Err(ControlError::NoSuchLink(a, b));
            }
        }
        if links.is_empty() {
            return Err(ControlError::Invalid("no link given".into()));
        }
        Ok(())
    }

    /// Stops server `id`: its port closes, its connections and links end, its table is gone.
    async fn kill(&self, id: ServerId) -> Result<Applied, ControlError> {
        self.check_server(id)?;
        let name = self.server_name(id);
        let running = self.shared.running[id].lock().unwrap_or_else(PoisonError::into_inner).take();
        let running = running.ok_or_else(|| ControlError::NotRunning(name.clone()))?;
        stop(&self.shared, id, running).await;
        // A process that is gone is no longer frozen.
        if self.shared.board.set_hung(id, None) {
            self.shared.events.emit(|| EventKind::ServerHung { server: id, hung: false });
        }
        self.shared.logs[id].note("killed by operator");
        Ok(Applied::changed(format!("killed {name}")))
    }

    /// Starts server `id` again, empty, on the address it had.
    async fn restart(&self, id: ServerId) -> Result<Applied, ControlError> {
        self.check_server(id)?;
        let name = self.server_name(id);
        if !self.shared.local[id] {
            return Err(ControlError::NotLocal(name));
        }
        if self.is_up(id) {
            return Err(ControlError::AlreadyRunning(name));
        }
        let spec = &self.shared.topology.servers[id];
        let port = self.addr(id).map_or(spec.port, |a| a.port());
        let listener = bind(&spec.host, port)
            .await
            .map_err(|err| ControlError::Rebind(name.clone(), err.to_string()))?;
        launch(&self.shared, id, listener);
        // Its neighbours need not wait out their reconnect backoff: it listens now.
        for &from in &self.shared.topology.servers[id].neighbours {
            if let Some(stats) = self.shared.stats.get(&(from, id)) {
                stats.wake();
            }
        }
        self.shared.logs[id].note("restarted by operator");
        Ok(Applied::changed(format!("restarted {name}")))
    }

    /// Freezes `server` under `record`, or thaws it (`None`).
    fn hang(&self, server: ServerId, record: Option<Arc<Record>>) -> Result<Applied, ControlError> {
        self.check_server(server)?;
        let name = self.server_name(server);
        let hung = record.is_some();
        if hung && !self.is_up(server) {
            return Err(ControlError::NotRunning(name));
        }
        let expiry = record.clone();
        if !self.shared.board.set_hung(server, record) {
            return Ok(Applied::unchanged(if hung {
                format!("{name} is already hung")
            } else {
                format!("{name} is not hung")
            }));
        }
        let note = if hung {
            "hung by operator: reads, answers and forwards nothing"
        } else {
            "unhung by operator"
        };
        self.shared.logs[server].note(note);
        self.shared.events.emit(|| EventKind::ServerHung { server, hung });
        if let Some(record) = expiry {
            self.expire(&record);
        }
        Ok(Applied::changed(if hung { format!("hung {name}") } else { format!("unhung {name}") }))
    }

    /// Sets `setting` on `links` under one record labelled by `control`, or says that they
    /// already have it (`Bona->Clark is already cut`).
    fn set_links(
        &self,
        links: &[Directed],
        setting: Setting,
        control: &Control,
        lasting: Option<Duration>,
    ) -> Result<Applied, ControlError> {
        self.check_links(links)?;
        let text = self.describe(control);
        let record = self.shared.board.record(text.clone(), lasting);
        let changed: Vec<Directed> =
            links.iter().copied().filter(|&l| self.shared.board.set(l, setting, &record)).collect();
        if changed.is_empty() {
            let names: Vec<String> =
                links.iter().map(|&l| link_name(l, &self.shared.names)).collect();
            let (subject, one) = (names.join(", "), names.len() == 1);
            let already = match (setting, one) {
                (Setting::Cut, true) => "is already cut",
                (Setting::Cut, false) => "are already cut",
                (Setting::Delay(_), true) => "already has that delay",
                (Setting::Delay(_), false) => "already have that delay",
                (Setting::Loss(_), true) => "already has that loss",
                (Setting::Loss(_), false) => "already have that loss",
                (Setting::Dup(_), true) => "already duplicates that much",
                (Setting::Dup(_), false) => "already duplicate that much",
            };
            return Ok(Applied::unchanged(format!("{subject} {already}")));
        }
        self.link_faults_changed(&changed, &text);
        if lasting.is_some() {
            self.expire(&record);
        }
        Ok(Applied::changed(text))
    }

    /// Lifts one kind of fault from `links`; `not` says what a link is when there was nothing
    /// to lift (`Bona->Clark is not cut`).
    fn lift_links(
        &self,
        links: &[Directed],
        kind: Kind,
        not: &str,
    ) -> Result<Applied, ControlError> {
        self.check_links(links)?;
        let lifted: Vec<Directed> =
            links.iter().copied().filter(|&l| self.shared.board.lift(l, kind)).collect();
        let names = |links: &[Directed]| {
            links.iter().map(|&l| link_name(l, &self.shared.names)).collect::<Vec<_>>().join(", ")
        };
        if lifted.is_empty() {
            return Ok(Applied::unchanged(format!("{} {not}", names(links))));
        }
        let what = match kind {
            Kind::Cut => "healed",
            Kind::Delay => "delay lifted from",
            Kind::Loss => "loss lifted from",
            Kind::Dup => "dup lifted from",
        };
        let text = format!("{what} {}", names(&lifted));
        self.link_faults_changed(&lifted, &text);
        Ok(Applied::changed(text))
    }

    /// Logs `text` at the sending server of each link and announces the links' new faults.
    fn link_faults_changed(&self, links: &[Directed], text: &str) {
        let mut logged: Vec<ServerId> = Vec::new();
        for &link in links {
            if !logged.contains(&link.from) {
                self.shared.logs[link.from].note(format_args!("operator: {text}"));
                logged.push(link.from);
            }
            let faults = self.shared.board.view(link);
            self.shared.events.emit(|| EventKind::LinkFaults { link, faults });
        }
    }

    fn delay_all(&self, delay: Delay, control: &Control, lasting: Option<Duration>) -> Applied {
        let off = delay.delay.is_zero() && delay.jitter.is_zero();
        let current = self.shared.board.all_delay();
        let own = self.directed().any(|l| self.has(l, Kind::Delay));
        if off && current.is_none() && !own {
            return Applied::unchanged("no link is delayed");
        }
        if !off && current == Some(delay) && !own && lasting.is_none() {
            return Applied::unchanged("every link already has that delay");
        }
        let text = self.describe(control);
        let record = (!off).then(|| self.shared.board.record(text.clone(), lasting));
        self.shared.board.set_all_delay(record.clone().map(|r| (delay, r)));
        let every: Vec<Directed> = self.directed().collect();
        self.link_faults_changed(&every, &text);
        if let (Some(record), Some(_)) = (&record, lasting) {
            self.expire(record);
        }
        Applied::changed(if off { "link delay off".to_owned() } else { text })
    }

    /// The directed cuts of a partition: every link between servers of different groups.
    /// Servers not named join the last group.
    fn partition_links(&self, groups: &[Vec<ServerId>]) -> Result<Vec<Directed>, ControlError> {
        let n = self.shared.names.len();
        let mut group_of: Vec<Option<usize>> = vec![None; n];
        for (g, members) in groups.iter().enumerate() {
            for &server in members {
                self.check_server(server)?;
                if group_of[server].replace(g).is_some() {
                    let name = self.server_name(server);
                    return Err(ControlError::Invalid(format!("{name} is in two groups")));
                }
            }
        }
        if groups.len() < 2 {
            return Err(ControlError::Invalid("a partition needs two groups or more".into()));
        }
        let last = groups.len() - 1;
        let group = |id: ServerId| group_of[id].unwrap_or(last);
        let links: Vec<Directed> =
            self.directed().filter(|l| group(l.from) != group(l.to)).collect();
        if links.is_empty() {
            return Err(ControlError::Invalid("no link crosses these groups".into()));
        }
        Ok(links)
    }

    fn reset(&self) -> Applied {
        let mut done = Vec::new();
        let links = self.shared.board.clear_links();
        if !links.is_empty() {
            self.link_faults_changed(&links, "reset");
            done.push(format!("{} link directions cleared", links.len()));
        }
        for server in 0..self.shared.names.len() {
            if self.shared.board.set_hung(server, None) {
                self.shared.logs[server].note("unhung by operator (reset)");
                self.shared.events.emit(|| EventKind::ServerHung { server, hung: false });
                done.push(format!("unhung {}", self.server_name(server)));
            }
        }
        if self.shared.traffic.paused() {
            let released = self.shared.traffic.resume(&self.shared.events);
            done.push(format!("resumed ({released} held reports released)"));
        }
        if done.is_empty() {
            Applied::unchanged("nothing to reset: no faults, not paused")
        } else {
            Applied::changed(format!("reset: {}", done.join(", ")))
        }
    }

    fn pause(&self) -> Applied {
        if self.shared.traffic.paused() {
            return Applied::unchanged("already paused");
        }
        self.shared.traffic.pause();
        Applied::changed("paused: reports between servers are held (step releases one, resume all)")
    }

    fn step(&self) -> Applied {
        match self.shared.traffic.step(&self.shared.events) {
            Some(stepped) => {
                let link = Directed::new(stepped.from, stepped.to);
                Applied::changed(format!(
                    "released {} on {} ({} still held)",
                    stepped.update,
                    link_name(link, &self.shared.names),
                    stepped.still_held
                ))
            }
            None if self.shared.traffic.paused() => Applied::unchanged("nothing is held"),
            None => Applied::unchanged("not paused: pause first"),
        }
    }

    fn resume(&self) -> Applied {
        if !self.shared.traffic.paused() {
            return Applied::unchanged("not paused");
        }
        let released = self.shared.traffic.resume(&self.shared.events);
        Applied::changed(format!("resumed: {released} held reports released"))
    }

    fn set_anti_entropy(&self, every: Option<Duration>) -> Result<Applied, ControlError> {
        if every.is_some_and(|every| every < super::control::MIN_ANTI_ENTROPY) {
            let floor = fmt_duration(super::control::MIN_ANTI_ENTROPY);
            return Err(ControlError::Invalid(format!(
                "anti-entropy runs every {floor} or less often"
            )));
        }
        let mut current = self.shared.anti_entropy.lock().unwrap_or_else(PoisonError::into_inner);
        if current.every == every {
            return Ok(Applied::unchanged(match every {
                Some(every) => format!("anti-entropy already runs every {}", fmt_duration(every)),
                None => "anti-entropy is already off".to_owned(),
            }));
        }
        current.set(every, &self.shared);
        Ok(Applied::changed(match every {
            Some(every) => format!("anti-entropy every {} (off-spec repair)", fmt_duration(every)),
            None => "anti-entropy off".to_owned(),
        }))
    }

    /// Heals the fault of `record` when its time is up (if it is still in force then).
    fn expire(&self, record: &Arc<Record>) {
        let Some(remaining) = record.remaining() else { return };
        let handle = self.clone();
        let (id, label) = (record.id, record.label.clone());
        let token = self.shared.root.clone();
        tokio::spawn(token.run_until_cancelled_owned(async move {
            tokio::time::sleep(remaining).await;
            handle.expired(id, &label);
        }));
    }

    fn expired(&self, id: u64, label: &str) {
        let hung = self.shared.board.unhang_record(id);
        let (links, was_all) = self.shared.board.remove(id);
        let text = format!("{label}: time is up, healed");
        if let Some(server) = hung {
            self.shared.logs[server].note(format_args!("operator: {text}"));
            self.shared.events.emit(|| EventKind::ServerHung { server, hung: false });
        }
        if was_all {
            let every: Vec<Directed> = self.directed().collect();
            self.link_faults_changed(&every, &text);
        } else if !links.is_empty() {
            self.link_faults_changed(&links, &text);
        }
        if hung.is_some() || was_all || !links.is_empty() {
            let label = label.into();
            self.shared.events.emit(|| EventKind::FaultExpired { label });
        }
    }
}

fn check_rate(rate: f64) -> Result<(), ControlError> {
    if (0.0..=1.0).contains(&rate) {
        Ok(())
    } else {
        Err(ControlError::Invalid(format!("rate {rate} is outside 0% to 100%")))
    }
}

fn check_delay(delay: Delay) -> Result<(), ControlError> {
    let max = super::control::MAX_DELAY;
    if delay.delay > max || delay.jitter > max {
        return Err(ControlError::Invalid(format!("delays are at most {}", fmt_duration(max))));
    }
    Ok(())
}
