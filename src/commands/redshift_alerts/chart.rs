//! The hourly chart as PNG bytes, drawn in-process (pure: no I/O). plotters' bitmap backend
//! without any font feature, so the image carries no text at all (no system fonts, no C
//! libraries): axes and grid only, one coloured line with point markers per cluster. Hours and
//! counts are in the text table posted with it, and the colours are named in a legend line.

use plotters::prelude::*;

/// Image size in pixels.
pub const WIDTH: u32 = 800;
pub const HEIGHT: u32 = 400;

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
const GRID: RGBColor = RGBColor(225, 225, 225);
const AXIS: RGBColor = RGBColor(90, 90, 90);

/// One line: a count per hour index (0 = the first hour of the window).
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(u32, u64)>,
}

/// Drawing failed (a bug here, not bad data).
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the chart: {0}")]
pub struct ChartError(String);

fn err(e: impl std::fmt::Display) -> ChartError {
    ChartError(e.to_string())
}

/// The chart of `series` over `hours` hours, as PNG.
///
/// # Errors
/// Only on a drawing or encoding bug.
pub fn hourly_png(series: &[Series<'_>], hours: u32) -> Result<Vec<u8>, ChartError> {
    let mut pixels = vec![255u8; (WIDTH * HEIGHT * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (WIDTH, HEIGHT)).into_drawing_area();
        let top = series
            .iter()
            .flat_map(|s| s.points.iter().map(|(_, n)| *n))
            .max()
            .unwrap_or(0)
            .max(1);
        let x_end = hours.saturating_sub(1).max(1);
        let y_end = top + top / 10 + 1;
        let mut chart = ChartBuilder::on(&root)
            .margin(20)
            .build_cartesian_2d(0..x_end, 0..y_end)
            .map_err(err)?;
        // Grid and axes as plain lines: plotters' mesh would draw labels, which need a font.
        for k in 1..=5 {
            let y = y_end * k / 5;
            chart
                .draw_series(LineSeries::new([(0, y), (x_end, y)], GRID))
                .map_err(err)?;
        }
        chart
            .draw_series(LineSeries::new([(0, y_end), (0, 0), (x_end, 0)], AXIS))
            .map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()].0;
            let points: Vec<(u32, u64)> = s.points.clone();
            chart
                .draw_series(LineSeries::new(points.clone(), colour.stroke_width(2)))
                .map_err(err)?;
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|p| Circle::new(p, 3, colour.filled())),
                )
                .map_err(err)?;
        }
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

/// "name: colour" for each series, in the order drawn.
pub fn legend(names: &[&str]) -> String {
    names
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{n}: {}", PALETTE[i % PALETTE.len()].1))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes a PNG into (width, height, RGB pixels).
    fn decode(bytes: &[u8]) -> (u32, u32, Vec<u8>) {
        let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("size")];
        let info = reader.next_frame(&mut pixels).expect("a frame");
        (info.width, info.height, pixels)
    }

    #[test]
    fn each_cluster_is_one_coloured_series_on_a_png_of_the_set_size() {
        let series = [
            Series {
                name: "a",
                points: vec![(0, 3), (5, 9), (10, 1)],
            },
            Series {
                name: "b",
                points: vec![(2, 4)],
            },
        ];
        let (w, h, pixels) = decode(&hourly_png(&series, 24).expect("draws"));
        assert_eq!((w, h), (WIDTH, HEIGHT));
        let count = |c: RGBColor| pixels.chunks(3).filter(|p| p == &[c.0, c.1, c.2]).count();
        assert!(count(PALETTE[0].0) > 100, "series a is drawn");
        assert!(count(PALETTE[1].0) > 10, "series b is drawn");
        assert!(PALETTE[2..].iter().all(|(c, _)| count(*c) == 0));
    }

    #[test]
    fn an_empty_chart_still_draws() {
        let (w, h, _) = decode(&hourly_png(&[], 1).expect("draws"));
        assert_eq!((w, h), (WIDTH, HEIGHT));
    }

    #[test]
    fn the_legend_names_colours_in_order() {
        assert_eq!(legend(&["x", "y"]), "x: blue, y: orange");
    }
}
