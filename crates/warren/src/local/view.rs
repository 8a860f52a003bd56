//! The live view of `warren local up` on a terminal (ratatui over crossterm): a table with one
//! row per member and service group (process, health as the others see it, service state and
//! role, the group's leader and election status, the last config incarnation, restarts) and,
//! below it, the latest events, redrawn in place. `q` or Ctrl-C ends it (in raw mode Ctrl-C is
//! a key, not a signal).
//!
//! It only draws the [`Board`]; it never changes the ring. The terminal is restored when the
//! [`Screen`] is dropped, whatever ended the run.

use std::io::Stdout;
use std::time::Duration;

use anyhow::{Context, Result};
use crossterm::event::{self, Event, KeyCode, KeyModifiers};
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, List, ListItem, Row, Table};

use super::board::Board;

/// The terminal while the view is up.
pub(crate) struct Screen {
    terminal: Terminal<CrosstermBackend<Stdout>>,
}

impl Screen {
    /// Switches the terminal to the alternate screen in raw mode.
    pub(crate) fn open() -> Result<Self> {
        enable_raw_mode().context("terminal raw mode")?;
        let mut out = std::io::stdout();
        crossterm::execute!(out, EnterAlternateScreen).context("alternate screen")?;
        let terminal = Terminal::new(CrosstermBackend::new(out)).context("terminal")?;
        Ok(Screen { terminal })
    }

    /// Handles pending keys and redraws; `false` once the user asked to quit.
    pub(crate) fn draw(&mut self, board: &Board) -> Result<bool> {
        while event::poll(Duration::ZERO).context("reading keys")? {
            if let Event::Key(k) = event::read().context("reading keys")? {
                let ctrl_c =
                    k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                if ctrl_c || k.code == KeyCode::Char('q') {
                    return Ok(false);
                }
            }
        }
        self.terminal
            .draw(|f| render(f, board))
            .context("drawing")?;
        Ok(true)
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = disable_raw_mode();
        let _ = crossterm::execute!(self.terminal.backend_mut(), LeaveAlternateScreen);
        let _ = self.terminal.show_cursor();
    }
}

fn health_style(h: &str) -> Style {
    match h {
        "alive" => Style::default().fg(Color::Green),
        "suspect" => Style::default().fg(Color::Yellow),
        "unknown" => Style::default(),
        _ => Style::default().fg(Color::Red),
    }
}

fn render(f: &mut ratatui::Frame<'_>, board: &Board) {
    let rows_needed = u16::try_from(board.rows.len()).unwrap_or(u16::MAX);
    let [table_area, events_area, help_area] = Layout::vertical([
        Constraint::Length(rows_needed.saturating_mul(2).saturating_add(3)),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(f.area());

    let mut rows = Vec::new();
    for (i, r) in board.rows.iter().enumerate() {
        let seen = board.seen_by_others(i);
        let process = match (r.pid, r.answering) {
            (Some(p), true) => format!("pid {p}"),
            (Some(p), false) => format!("pid {p} (no answer)"),
            (None, _) => "not running".into(),
        };
        let groups: Vec<_> = r
            .obs
            .as_ref()
            .map(|o| o.groups.iter().collect())
            .unwrap_or_default();
        if groups.is_empty() {
            rows.push(Row::new(vec![
                format!("{i}{}", if r.cut { " ✂" } else { "" }),
                process,
                seen.clone(),
            ]));
            continue;
        }
        for (name, g) in groups {
            let svc = r.obs.as_ref().and_then(|o| o.services.get(name));
            let style = health_style(&seen);
            rows.push(
                Row::new(vec![
                    format!("{i}{}", if r.cut { " ✂" } else { "" }),
                    process.clone(),
                    seen.clone(),
                    name.clone(),
                    svc.map_or("-".into(), |s| s.state.clone()),
                    board.role(i, name).to_owned(),
                    g.leader.as_deref().map_or("none".into(), |l| board.name(l)),
                    g.status.clone(),
                    g.config.map_or("-".into(), |c| c.to_string()),
                    format!(
                        "{}/{}",
                        r.starts.saturating_sub(1),
                        svc.map_or(0, |s| s.restarts)
                    ),
                ])
                .style(style),
            );
        }
    }
    let header = Row::new(vec![
        "member",
        "process",
        "seen by others",
        "group",
        "service",
        "role",
        "leader",
        "election",
        "config",
        "restarts",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    let table = Table::new(
        rows,
        [
            Constraint::Length(7),
            Constraint::Length(20),
            Constraint::Length(22),
            Constraint::Length(16),
            Constraint::Length(8),
            Constraint::Length(9),
            Constraint::Length(10),
            Constraint::Length(20),
            Constraint::Length(7),
            Constraint::Length(9),
        ],
    )
    .header(header)
    .block(
        Block::default()
            .borders(Borders::ALL)
            .title(" warren local "),
    );
    f.render_widget(table, table_area);

    let height = usize::from(events_area.height.saturating_sub(2));
    let skip = board.events.len().saturating_sub(height);
    let items: Vec<ListItem<'_>> = board
        .events
        .iter()
        .skip(skip)
        .map(|e| ListItem::new(Line::from(e.as_str())))
        .collect();
    f.render_widget(
        List::new(items).block(Block::default().borders(Borders::ALL).title(" events ")),
        events_area,
    );
    f.render_widget(
        Line::from(
            " q / Ctrl-C: stop the ring   other terminal: warren local kill|stop|start|restart N, \
             partition N…, heal, config apply",
        ),
        help_area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::local::poll::{GroupView, Observation, ServiceView};
    use ratatui::backend::TestBackend;

    #[test]
    fn a_frame_shows_each_member_its_role_and_the_events() {
        let mut board = Board::new(2);
        for (i, id) in ["aa", "bb"].iter().enumerate() {
            let mut o = Observation {
                id: (*id).into(),
                ..Observation::default()
            };
            o.peers
                .insert(if i == 0 { "bb" } else { "aa" }.into(), "Alive".into());
            o.groups.insert(
                "hello.default".into(),
                GroupView {
                    leader: Some("bb".into()),
                    status: "ElectionFinished".into(),
                    config: Some(2),
                },
            );
            o.services.insert(
                "hello.default".into(),
                ServiceView {
                    state: "up".into(),
                    ..ServiceView::default()
                },
            );
            board.observe(i, Some(o));
        }
        board.push("12:00:00 member 0 sees member 1 alive".into());
        let mut t = Terminal::new(TestBackend::new(160, 20)).unwrap();
        t.draw(|f| render(f, &board)).unwrap();
        let text: String = t
            .backend()
            .buffer()
            .content()
            .iter()
            .map(|c| c.symbol())
            .collect();
        for want in [
            "follower",
            "leader",
            "member 1",
            "ElectionFinished",
            "alive",
            "12:00:00 member 0 sees member 1 alive",
        ] {
            assert!(text.contains(want), "{want} missing from the frame");
        }
    }
}
