//! The Socket Mode connections the workspace keeps: each socket task's command channel,
//! whether the socket is live, and the round robin that spreads envelopes over live sockets.
//!
//! Bookkeeping only: handing a [`Command`] to a task is the one effect; `socket` runs the tasks.

use tokio::sync::mpsc;

/// What the emulator tells one socket task to do.
pub(super) enum Command {
    /// Write this text frame.
    Send(String),
    /// Write a `disconnect` frame with this reason, then close when the client does or after
    /// a grace period.
    Disconnect(String),
    /// Drop the TCP stream without any closing handshake.
    Drop,
    /// Stop reading and writing, keeping the TCP stream open: a half-open connection, whose
    /// pings go unanswered.
    Freeze,
}

/// One accepted socket, as the workspace sees it.
struct Connection {
    id: u64,
    commands: mpsc::UnboundedSender<Command>,
    /// Got `hello` and is neither disconnecting nor dropped: envelopes may go here.
    live: bool,
}

/// Every accepted socket, the oldest first.
#[derive(Default)]
pub(super) struct Connections {
    sockets: Vec<Connection>,
    next_id: u64,
    round_robin: usize,
}

impl Connections {
    /// Adds a live socket whose task reads `commands`; returns its id.
    pub(super) fn add(&mut self, commands: mpsc::UnboundedSender<Command>) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        self.sockets.push(Connection {
            id,
            commands,
            live: true,
        });
        id
    }

    /// Forgets the socket `id`, whose task ended.
    pub(super) fn remove(&mut self, id: u64) {
        self.sockets.retain(|c| c.id != id);
    }

    /// Makes the next envelope go to the live socket at `index` (oldest first), as Slack may
    /// pick any connection of the app; round robin goes on from there.
    pub(super) fn route_next_to(&mut self, index: usize) {
        self.round_robin = index;
    }

    /// Sends `frame` to the next live socket in round robin; `None` when none is live.
    pub(super) fn route(&mut self, frame: &str) -> Option<()> {
        loop {
            let live: Vec<usize> = (0..self.sockets.len())
                .filter(|&index| self.sockets[index].live)
                .collect();
            let index = *live.get(self.round_robin % live.len().max(1))?;
            self.round_robin = self.round_robin.wrapping_add(1);
            let connection = &mut self.sockets[index];
            if connection
                .commands
                .send(Command::Send(frame.to_owned()))
                .is_ok()
            {
                return Some(());
            }
            connection.live = false;
        }
    }

    /// Takes the oldest live socket out of the round robin and gives it `command`.
    pub(super) fn retire_oldest(&mut self, command: Command) {
        if let Some(connection) = self.sockets.iter_mut().find(|c| c.live) {
            connection.live = false;
            // A closed channel means the task already ended: nothing left to retire.
            let _ = connection.commands.send(command);
        }
    }

    /// How many sockets are live.
    pub(super) fn live_count(&self) -> usize {
        self.sockets.iter().filter(|c| c.live).count()
    }
}
