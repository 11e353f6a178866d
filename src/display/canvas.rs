//! Drawing surfaces in RAM for the renderer: [`Canvas`], a frame buffer
//! for panels whose driver has none (the colour TFTs), which remembers
//! which rows each frame touched ([`DirtyRows`]) so only those go over the
//! bus; and [`RgbCanvas`], an RGB image (the annotated images).

use embedded_graphics::pixelcolor::Rgb888;
use embedded_graphics::prelude::*;
use embedded_graphics::primitives::Rectangle;

use super::palette::PanelColour;

/// Which rows a frame touched, so that only those go to the panel.
#[derive(Debug, Clone)]
pub struct DirtyRows {
    /// Rows drawn in the frame being built.
    drawn: Vec<bool>,
    /// Rows drawn in the frame before (they must be cleared and resent).
    before: Vec<bool>,
    /// Send every row (the panel's memory holds something else).
    all: bool,
}

impl DirtyRows {
    /// Every row dirty (a freshly connected panel shows garbage).
    pub fn new(height: usize) -> Self {
        Self {
            drawn: vec![false; height],
            before: vec![false; height],
            all: true,
        }
    }

    /// Marks every row for sending.
    pub fn all(&mut self) {
        self.all = true;
    }

    /// Starts a frame: returns the rows to clear (those the last frame drew).
    pub(crate) fn begin(&mut self) -> &[bool] {
        std::mem::swap(&mut self.drawn, &mut self.before);
        self.drawn.fill(false);
        &self.before
    }

    pub(crate) fn mark(&mut self, y: usize) {
        if let Some(d) = self.drawn.get_mut(y) {
            *d = true;
        }
    }

    pub(crate) fn mark_range(&mut self, y0: usize, y1: usize) {
        let end = y1.min(self.drawn.len());
        if y0 < end {
            self.drawn[y0..end].fill(true);
        }
    }

    /// Runs of rows `[start, end)` that changed since the panel last got
    /// them: drawn in this frame or in the one before (or all of them).
    pub fn runs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        let dirty = |y: usize| self.all || self.drawn[y] || self.before[y];
        let h = self.drawn.len();
        let mut y = 0;
        std::iter::from_fn(move || {
            while y < h && !dirty(y) {
                y += 1;
            }
            if y >= h {
                return None;
            }
            let start = y;
            while y < h && dirty(y) {
                y += 1;
            }
            Some((start, y))
        })
    }

    /// The runs went out.
    pub fn sent(&mut self) {
        self.all = false;
    }
}

/// A RAM frame buffer of `C` pixels that records the rows each frame
/// touches (for panels whose driver writes straight to the bus).
#[derive(Debug, Clone)]
pub struct Canvas<C> {
    width: u32,
    height: u32,
    pixels: Vec<C>,
    rows: DirtyRows,
}

impl<C: PanelColour> Canvas<C> {
    pub fn new(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            pixels: vec![C::BACKGROUND; width as usize * height as usize],
            rows: DirtyRows::new(height as usize),
        }
    }

    /// Starts a frame: clears what the last frame drew.
    pub fn begin_frame(&mut self) {
        let w = self.width as usize;
        let clear = self.rows.begin();
        for (y, _) in clear.iter().enumerate().filter(|(_, &c)| c) {
            self.pixels[y * w..(y + 1) * w].fill(C::BACKGROUND);
        }
    }

    /// Clears everything and marks every row for sending (after the panel
    /// was re-initialised).
    pub fn invalidate(&mut self) {
        self.pixels.fill(C::BACKGROUND);
        self.rows.all();
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn pixels(&self) -> &[C] {
        &self.pixels
    }

    /// One row's pixels.
    pub fn row(&self, y: usize) -> &[C] {
        let w = self.width as usize;
        &self.pixels[y * w..(y + 1) * w]
    }

    /// The rows to send, as `[start, end)` runs.
    pub fn dirty_runs(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.rows.runs()
    }

    /// The dirty rows were sent.
    pub fn sent(&mut self) {
        self.rows.sent();
    }
}

impl<C: PanelColour> OriginDimensions for Canvas<C> {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl<C: PanelColour> DrawTarget for Canvas<C> {
    type Color = C;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<C>>,
    {
        let w = self.width as usize;
        let size = self.size();
        let (buf, rows) = (&mut self.pixels, &mut self.rows);
        each_inside(size, pixels, |x, y, c| {
            buf[y * w + x] = c;
            rows.mark(y);
        });
        Ok(())
    }

    fn fill_solid(&mut self, area: &Rectangle, color: C) -> Result<(), Self::Error> {
        let w = self.width as usize;
        let size = self.size();
        let (buf, rows) = (&mut self.pixels, &mut self.rows);
        fill_rows(size, area, rows, |y, x0, x1| {
            buf[y * w + x0..y * w + x1].fill(color)
        });
        Ok(())
    }
}

/// Calls `put(x, y, colour)` for each of `pixels` inside a surface of
/// `size` (the others are off the glass).
pub(crate) fn each_inside<C: PixelColor>(
    size: Size,
    pixels: impl IntoIterator<Item = Pixel<C>>,
    mut put: impl FnMut(usize, usize, C),
) {
    let (w, h) = (size.width as i32, size.height as i32);
    for Pixel(p, c) in pixels {
        if p.x >= 0 && p.y >= 0 && p.x < w && p.y < h {
            put(p.x as usize, p.y as usize, c);
        }
    }
}

/// Calls `fill(y, x0, x1)` for each row of `area` inside a surface of
/// `size` (columns `x0..x1`) and marks those rows in `rows`.
pub(crate) fn fill_rows(
    size: Size,
    area: &Rectangle,
    rows: &mut DirtyRows,
    mut fill: impl FnMut(usize, usize, usize),
) {
    let r = area.intersection(&Rectangle::new(Point::zero(), size));
    let Some(br) = r.bottom_right() else {
        return;
    };
    let (x0, x1) = (r.top_left.x as usize, br.x as usize + 1);
    for y in r.top_left.y as usize..=br.y as usize {
        fill(y, x0, x1);
    }
    rows.mark_range(r.top_left.y as usize, br.y as usize + 1);
}

/// An RGB image (3 bytes a pixel, rows without padding) as a draw target:
/// what the annotator draws its pictures on.
#[derive(Debug)]
pub struct RgbCanvas<'a> {
    width: u32,
    height: u32,
    pixels: &'a mut [u8],
}

impl<'a> RgbCanvas<'a> {
    /// The first `width` × `height` × 3 bytes of `pixels`; `None` when it
    /// is shorter.
    pub fn new(pixels: &'a mut [u8], width: u32, height: u32) -> Option<Self> {
        let len = (width as usize)
            .checked_mul(height as usize)?
            .checked_mul(3)?;
        Some(Self {
            width,
            height,
            pixels: pixels.get_mut(..len)?,
        })
    }

    fn put(&mut self, x: usize, y: usize, c: Rgb888) {
        let i = (y * self.width as usize + x) * 3;
        self.pixels[i..i + 3].copy_from_slice(&[c.r(), c.g(), c.b()]);
    }
}

impl OriginDimensions for RgbCanvas<'_> {
    fn size(&self) -> Size {
        Size::new(self.width, self.height)
    }
}

impl DrawTarget for RgbCanvas<'_> {
    type Color = Rgb888;
    type Error = core::convert::Infallible;

    fn draw_iter<I>(&mut self, pixels: I) -> Result<(), Self::Error>
    where
        I: IntoIterator<Item = Pixel<Rgb888>>,
    {
        let size = self.size();
        each_inside(size, pixels, |x, y, c| self.put(x, y, c));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_graphics::pixelcolor::Rgb565;

    #[test]
    fn rgb_canvas_writes_rgb_bytes_inside_only() {
        let mut px = vec![0u8; 4 * 3 * 3];
        assert!(RgbCanvas::new(&mut px[..35], 4, 3).is_none());
        let mut c = RgbCanvas::new(&mut px, 4, 3).unwrap();
        Pixel(Point::new(1, 2), Rgb888::new(10, 20, 30))
            .draw(&mut c)
            .unwrap();
        Pixel(Point::new(4, 0), Rgb888::WHITE).draw(&mut c).unwrap();
        Pixel(Point::new(0, -1), Rgb888::WHITE)
            .draw(&mut c)
            .unwrap();
        let i = (2 * 4 + 1) * 3;
        assert_eq!(&px[i..i + 3], &[10, 20, 30]);
        assert_eq!(px.iter().filter(|&&b| b != 0).count(), 3);
    }

    #[test]
    fn canvas_clears_and_resends_only_touched_rows() {
        let mut c = Canvas::<Rgb565>::new(8, 10);
        // Fresh: everything is dirty once.
        c.begin_frame();
        assert_eq!(c.dirty_runs().collect::<Vec<_>>(), vec![(0, 10)]);
        c.sent();
        c.begin_frame();
        Pixel(Point::new(3, 2), Rgb565::RED).draw(&mut c).unwrap();
        c.fill_solid(
            &Rectangle::new(Point::new(0, 6), Size::new(8, 2)),
            Rgb565::BLUE,
        )
        .unwrap();
        assert_eq!(c.dirty_runs().collect::<Vec<_>>(), vec![(2, 3), (6, 8)]);
        c.sent();
        // Next frame draws elsewhere: the old rows are cleared and resent.
        c.begin_frame();
        assert_eq!(c.row(2)[3], Rgb565::BLACK);
        assert_eq!(c.row(6), &[Rgb565::BLACK; 8]);
        Pixel(Point::new(0, 9), Rgb565::GREEN).draw(&mut c).unwrap();
        assert_eq!(
            c.dirty_runs().collect::<Vec<_>>(),
            vec![(2, 3), (6, 8), (9, 10)]
        );
        // Off-panel pixels are ignored.
        Pixel(Point::new(8, 0), Rgb565::RED).draw(&mut c).unwrap();
        Pixel(Point::new(-1, 0), Rgb565::RED).draw(&mut c).unwrap();
        assert_eq!(c.row(0), &[Rgb565::BLACK; 8]);
    }
}
