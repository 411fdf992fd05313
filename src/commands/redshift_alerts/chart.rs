//! `/redshift-alerts` charts as PNG bytes, drawn in-process (pure: no I/O) with plotters' bitmap
//! backend: the hourly chart (one line per cluster over the window's hours) and the queue chart
//! (median queue and execution time per WLM queue). Titles, axis labels with units, time ticks
//! and legends are drawn with DejaVu Sans Mono, embedded in the binary from `assets/fonts/`
//! (its licence beside it) through plotters' `ab_glyph` feature: no system fonts, no C libraries.

use chrono::{DateTime, Duration, Utc};
use plotters::chart::MeshStyle;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle};
use std::sync::OnceLock;

/// Image size in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 400;
/// The band at the top of the image that holds the title, and nothing else.
pub const TITLE_BAND: u32 = 40;

/// Series colours, in cluster order (repeating after eight clusters), with their names.
pub const PALETTE: [(RGBColor, &str); 8] = [
    (RGBColor(31, 119, 180), "blue"),
    (RGBColor(255, 127, 14), "orange"),
    (RGBColor(44, 160, 44), "green"),
    (RGBColor(214, 39, 40), "red"),
    (RGBColor(148, 103, 189), "purple"),
    (RGBColor(140, 86, 75), "brown"),
    (RGBColor(227, 119, 194), "pink"),
    (RGBColor(23, 190, 207), "cyan"),
];
/// The colour of all text and axes.
pub const INK: RGBColor = RGBColor(40, 40, 40);
const GRID: RGBColor = RGBColor(225, 225, 225);
const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSansMono.ttf");

/// One line: a count per hour index (0 = the first hour of the window).
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(u32, u64)>,
}

/// One WLM queue's bar pair: its label and median queue and execution seconds.
pub struct QueueBar {
    pub label: String,
    pub queue_s: f64,
    pub exec_s: f64,
}

/// Drawing failed (a bug here, not bad data).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct ChartError(String);

fn err(e: impl std::fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

/// Registers the embedded font once; every chart needs it.
fn font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, FONT_BYTES)
                .map_err(|_| "the embedded font is not a TrueType font".to_owned())
        })
        .clone()
        .map_err(ChartError)
}

/// Draws on a white canvas and encodes it as PNG.
fn png(
    draw: impl FnOnce(&DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>) -> Result<(), ChartError>,
) -> Result<Vec<u8>, ChartError> {
    font()?;
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        draw(&root)?;
        root.present().map_err(err)?;
    }
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, WIDTH, HEIGHT);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(err)?;
    writer.write_image_data(&pixels).map_err(err)?;
    writer.finish().map_err(err)?;
    Ok(png_bytes)
}

fn text(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&INK)
}

/// The hourly chart of `series` over the `hours` hours from `since`, titled `title`.
///
/// # Errors
/// Only on a drawing or encoding bug.
pub fn hourly_png(
    series: &[Series<'_>],
    since: DateTime<Utc>,
    hours: u32,
    title: &str,
) -> Result<Vec<u8>, ChartError> {
    png(|root| {
        let top = series
            .iter()
            .flat_map(|s| s.points.iter().map(|(_, n)| *n))
            .max()
            .unwrap_or(0)
            .max(1);
        let x_end = hours.saturating_sub(1).max(1);
        let mut chart = frame(root, title)
            .build_cartesian_2d(0..x_end, 0..top + top / 10 + 1)
            .map_err(err)?;
        let tick = |h: &u32| (since + Duration::hours(i64::from(*h))).format("%m-%d %H:00");
        styled(&mut chart.configure_mesh())
            .x_desc("Hour starting (UTC)")
            .y_desc("Queries started per hour")
            .x_labels(6)
            .x_label_formatter(&|h| tick(h).to_string())
            .draw()
            .map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()].0;
            chart
                .draw_series(LineSeries::new(s.points.clone(), colour.stroke_width(2)))
                .map_err(err)?
                .label(s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(3))
                });
            chart
                .draw_series(s.points.iter().map(|p| Circle::new(*p, 3, colour.filled())))
                .map_err(err)?;
        }
        legend(&mut chart)
    })
}

/// The queue chart: per WLM queue, the median queue and execution time side by side.
///
/// # Errors
/// Only on a drawing or encoding bug.
pub fn queues_png(bars: &[QueueBar], title: &str) -> Result<Vec<u8>, ChartError> {
    png(|root| {
        let top = bars
            .iter()
            .flat_map(|b| [b.queue_s, b.exec_s])
            .fold(0.0_f64, f64::max)
            .max(0.1);
        let count = u32::try_from(bars.len()).unwrap_or(u32::MAX).max(1);
        let mut chart = frame(root, title)
            .build_cartesian_2d(0.0..f64::from(count), 0.0..top * 1.15)
            .map_err(err)?;
        styled(&mut chart.configure_mesh())
            .x_desc("WLM queue (cluster / service class)")
            .y_desc("Median time (s)")
            // Each queue is named under its bars below, not at plotters' number ticks.
            .x_label_formatter(&|_| String::new())
            .disable_x_mesh()
            .draw()
            .map_err(err)?;
        for (k, (name, pick)) in [
            (
                "queue wait",
                (|b: &QueueBar| b.queue_s) as fn(&QueueBar) -> f64,
            ),
            ("execution", |b: &QueueBar| b.exec_s),
        ]
        .into_iter()
        .enumerate()
        {
            let colour = PALETTE[k].0;
            let offset = 0.1 + 0.4 * f64::from(u8::try_from(k).unwrap_or(0));
            chart
                .draw_series(bars.iter().enumerate().map(|(i, b)| {
                    let x = f64::from(u32::try_from(i).unwrap_or(0)) + offset;
                    Rectangle::new([(x, 0.0), (x + 0.38, pick(b))], colour.filled())
                }))
                .map_err(err)?
                .label(name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 14, y + 5)], colour.filled())
                });
        }
        let style = text(12).pos(Pos::new(HPos::Center, VPos::Top));
        for (i, b) in bars.iter().enumerate() {
            let centre = f64::from(u32::try_from(i).unwrap_or(0)) + 0.5;
            let (x, y) = chart.backend_coord(&(centre, 0.0));
            root.draw(&Text::new(b.label.as_str(), (x, y + 6), style.clone()))
                .map_err(err)?;
        }
        legend(&mut chart)
    })
}

/// A chart's frame: the title and room for the axis labels.
fn frame<'a, 'b>(
    root: &'a DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, BitMapBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, text(20))
        .margin(12)
        .x_label_area_size(48)
        .y_label_area_size(56);
    builder
}

/// The look of every mesh: fonts, grid and axis colours.
fn styled<'m, 'a, 'b, X: Ranged, Y: Ranged>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, BitMapBackend<'a>>,
) -> &'m mut MeshStyle<'a, 'b, X, Y, BitMapBackend<'a>> {
    mesh.label_style(text(12))
        .axis_desc_style(text(14))
        .light_line_style(GRID)
        .bold_line_style(GRID)
        .axis_style(INK)
}

/// The legend box, top right.
fn legend<'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, BitMapBackend<'a>, Cartesian2d<X, Y>>,
) -> Result<(), ChartError> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .label_font(text(13))
        .background_style(WHITE.mix(0.85))
        .border_style(INK)
        .draw()
        .map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Decodes a PNG into (width, height, RGB pixels).
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut pixels).expect("a frame");
        (info.width, info.height, pixels)
    }

    fn since() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 3, 0, 0, 0)
            .single()
            .expect("a time")
    }

    fn two_series() -> [Series<'static>; 2] {
        [
            Series {
                name: "a",
                points: vec![(0, 3), (5, 9), (10, 1)],
            },
            Series {
                name: "b",
                points: vec![(2, 4)],
            },
        ]
    }

    /// Pixels of rows `rows` that are not white (antialiased text is shades of grey).
    fn inked(pixels: &[u8], rows: std::ops::Range<u32>) -> usize {
        let row = (WIDTH * 3) as usize;
        pixels[rows.start as usize * row..rows.end as usize * row]
            .chunks(3)
            .filter(|p| p.iter().all(|c| *c < 200))
            .count()
    }

    #[test]
    fn each_cluster_is_one_coloured_series_on_a_png_of_the_set_size() {
        let (w, h, pixels) =
            decode(&hourly_png(&two_series(), since(), 24, "Queries per hour").expect("draws"));
        assert_eq!((w, h), (WIDTH, HEIGHT));
        let count = |c: RGBColor| pixels.chunks(3).filter(|p| p == &[c.0, c.1, c.2]).count();
        assert!(count(PALETTE[0].0) > 100, "series a is drawn");
        assert!(count(PALETTE[1].0) > 10, "series b is drawn");
        assert!(PALETTE[2..].iter().all(|(c, _)| count(*c) == 0));
    }

    #[test]
    fn the_title_is_drawn_as_text_and_a_longer_title_inks_more() {
        let short = decode(&hourly_png(&two_series(), since(), 24, "Q").expect("draws")).2;
        let long = decode(
            &hourly_png(
                &two_series(),
                since(),
                24,
                "Queries per hour · 4 clusters · last 1d",
            )
            .expect("draws"),
        )
        .2;
        let (short, long) = (inked(&short, 0..TITLE_BAND), inked(&long, 0..TITLE_BAND));
        assert!(short > 20, "one glyph is drawn: {short} pixels");
        assert!(long > 10 * short, "{long} pixels against {short}");
    }

    #[test]
    fn axis_ticks_and_descriptions_are_drawn_below_and_left_of_the_plot() {
        let (_, _, pixels) = decode(&hourly_png(&two_series(), since(), 24, "t").expect("draws"));
        assert!(
            inked(&pixels, HEIGHT - 48..HEIGHT) > 300,
            "the time ticks and the x description"
        );
        let left: usize = (TITLE_BAND..HEIGHT - 48)
            .map(|y| {
                let start = ((y * WIDTH) * 3) as usize;
                pixels[start..start + 56 * 3]
                    .chunks(3)
                    .filter(|p| p.iter().all(|c| *c < 200))
                    .count()
            })
            .sum();
        assert!(left > 200, "the count ticks and the y description: {left}");
    }

    #[test]
    fn the_queue_chart_draws_a_bar_pair_per_queue_and_empty_charts_still_draw() {
        let bars = [
            QueueBar {
                label: "etl-prod/6".into(),
                queue_s: 1.0,
                exec_s: 1.5,
            },
            QueueBar {
                label: "etl-prod/100".into(),
                queue_s: 0.25,
                exec_s: 0.75,
            },
        ];
        let (w, h, pixels) = decode(&queues_png(&bars, "WLM queues").expect("draws"));
        assert_eq!((w, h), (WIDTH, HEIGHT));
        let count = |c: RGBColor| pixels.chunks(3).filter(|p| p == &[c.0, c.1, c.2]).count();
        assert!(count(PALETTE[0].0) > 1000 && count(PALETTE[1].0) > 1000);
        assert!(queues_png(&[], "none").is_ok());
        assert!(hourly_png(&[], since(), 1, "none").is_ok());
    }
}
