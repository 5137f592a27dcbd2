//! Drawing the demo's frames straight into 4:2:0 YUV planes, the encoder's input. Only flat
//! rectangles and discs, in integer arithmetic, so the same job draws the same pixels on every
//! machine (no floating-point trigonometry, no SIMD colour conversion whose rounding could vary).

#[cfg(feature = "video")]
use openh264::formats::YUVSource;

use super::spec::{RenderSpec, VideoSpec};
use super::timeline::hsv;

/// One frame: full-resolution luma, half-resolution chroma (BT.601, limited range, which the
/// encoder's VUI declares).
pub(crate) struct Canvas {
    width: usize,
    height: usize,
    y: Vec<u8>,
    u: Vec<u8>,
    v: Vec<u8>,
}

/// RGB to limited-range BT.601 Y'CbCr, the usual 8-bit integer approximation.
fn to_yuv([r, g, b]: [u8; 3]) -> [u8; 3] {
    let (r, g, b) = (i32::from(r), i32::from(g), i32::from(b));
    let y = ((66 * r + 129 * g + 25 * b + 128) >> 8) + 16;
    let u = ((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128;
    let v = ((112 * r - 94 * g - 18 * b + 128) >> 8) + 128;
    [y as u8, u as u8, v as u8]
}

impl Canvas {
    /// A black canvas; both sides must be even (callers use [`super::spec::Aspect`] sizes).
    pub(crate) fn new(width: u32, height: u32) -> Self {
        let (width, height) = (width as usize, height as usize);
        let chroma = (width / 2) * (height / 2);
        Self {
            width,
            height,
            y: vec![16; width * height],
            u: vec![128; chroma],
            v: vec![128; chroma],
        }
    }

    fn width(&self) -> i32 {
        self.width as i32
    }

    fn height(&self) -> i32 {
        self.height as i32
    }

    /// Fills `[x0, x1) × [y0, y1)`, clipped to the canvas.
    fn rect(&mut self, x0: i32, y0: i32, x1: i32, y1: i32, rgb: [u8; 3]) {
        let [cy, cu, cv] = to_yuv(rgb);
        let (x0, x1) = (x0.clamp(0, self.width()), x1.clamp(0, self.width()));
        let (y0, y1) = (y0.clamp(0, self.height()), y1.clamp(0, self.height()));
        if x0 >= x1 || y0 >= y1 {
            return;
        }
        let (x0, x1, y0, y1) = (x0 as usize, x1 as usize, y0 as usize, y1 as usize);
        for row in y0..y1 {
            self.y[row * self.width + x0..row * self.width + x1].fill(cy);
        }
        // A chroma sample covers 2×2 pixels: it takes the colour if the rectangle covers any.
        let half = self.width / 2;
        for row in y0 / 2..y1.div_ceil(2) {
            self.u[row * half + x0 / 2..row * half + x1.div_ceil(2)].fill(cu);
            self.v[row * half + x0 / 2..row * half + x1.div_ceil(2)].fill(cv);
        }
    }

    /// Fills the disc of radius `r` around `(cx, cy)`: pixels whose centre lies inside.
    fn disc(&mut self, cx: i32, cy: i32, r: i32, rgb: [u8; 3]) {
        let [cy_, cu, cv] = to_yuv(rgb);
        // In doubled coordinates pixel centres are odd, so the test stays in integers.
        let inside = |x2: i32, y2: i32| {
            let (dx, dy) = (x2 - 2 * cx, y2 - 2 * cy);
            dx * dx + dy * dy <= 4 * r * r
        };
        for y in (cy - r).max(0)..(cy + r + 1).min(self.height()) {
            for x in (cx - r).max(0)..(cx + r + 1).min(self.width()) {
                if inside(2 * x + 1, 2 * y + 1) {
                    self.y[y as usize * self.width + x as usize] = cy_;
                }
            }
        }
        let (half_w, half_h) = (self.width() / 2, self.height() / 2);
        for by in ((cy - r) / 2).max(0)..((cy + r) / 2 + 1).min(half_h) {
            for bx in ((cx - r) / 2).max(0)..((cx + r) / 2 + 1).min(half_w) {
                if inside(4 * bx + 2, 4 * by + 2) {
                    let i = (by * half_w + bx) as usize;
                    self.u[i] = cu;
                    self.v[i] = cv;
                }
            }
        }
    }

    /// The progress bar along the bottom edge, so every video visibly moves.
    fn progress(&mut self, frame: u32, frames: u32, rgb: [u8; 3]) {
        let (w, h) = (self.width(), self.height());
        self.rect(0, h - 6, w, h, [40, 40, 48]);
        let done = (i64::from(frame) + 1) * i64::from(w) / i64::from(frames.max(1));
        self.rect(0, h - 6, done as i32, h, rgb);
    }
}

impl Canvas {
    /// Width and height, then the Y, U and V planes (strides: width, width / 2, width / 2).
    #[cfg_attr(all(feature = "video", not(test)), allow(dead_code))]
    pub(crate) fn planes(&self) -> (usize, usize, [&[u8]; 3]) {
        (self.width, self.height, [&self.y, &self.u, &self.v])
    }
}

#[cfg(feature = "video")]
impl YUVSource for Canvas {
    fn dimensions(&self) -> (usize, usize) {
        (self.width, self.height)
    }

    fn strides(&self) -> (usize, usize, usize) {
        (self.width, self.width / 2, self.width / 2)
    }

    fn y(&self) -> &[u8] {
        &self.y
    }

    fn u(&self) -> &[u8] {
        &self.u
    }

    fn v(&self) -> &[u8] {
        &self.v
    }
}

/// A triangle wave over `period` frames, from `-amplitude` to `amplitude` and back.
fn triangle(frame: u32, period: u32, amplitude: i32) -> i32 {
    let period = period.max(2);
    let half = period / 2;
    let phase = frame % period;
    let rising = if phase < half { phase } else { period - phase };
    (rising as i32 * 2 * amplitude) / half as i32 - amplitude
}

/// An avatar-ish frame: colour bars from the script's digest, a face that bobs and sways, a
/// mouth that opens once per word of the script, and the progress bar.
pub(crate) fn draw_video(canvas: &mut Canvas, spec: &VideoSpec, frame: u32, frames: u32) {
    let (w, h) = (canvas.width(), canvas.height());
    let hue = (spec.seed % 360) as u32;
    let bars = 6;
    for i in 0..bars {
        let shade = hsv(
            hue + i as u32 * 47,
            170,
            110 + (spec.seed >> (8 + i)) as u32 % 40,
        );
        canvas.rect(i * w / bars, 0, (i + 1) * w / bars, h, shade);
    }

    let r = w.min(h) * 3 / 10;
    let cx = w / 2 + triangle(frame, 48, w / 20);
    let cy = h / 2 - 4 + triangle(frame, 12, (h / 50).max(2));
    canvas.disc(cx, cy, r + 3, [30, 30, 36]);
    canvas.disc(cx, cy, r, hsv(hue + 180, 110, 240));

    // Eyes, closed for two frames every three seconds.
    let eye_dark = [35, 35, 45];
    for side in [-1, 1] {
        let (ex, ey) = (cx + side * r / 3, cy - r / 4);
        if frame % 36 < 2 {
            canvas.rect(ex - r / 8, ey, ex + r / 8, ey + 2, eye_dark);
        } else {
            canvas.disc(ex, ey, (r / 8).max(2), eye_dark);
        }
    }

    // The mouth opens and closes once per word, spread evenly over the video.
    let words = u32::from(spec.words).max(1);
    let per_word = (frames / words).max(2);
    let open = if spec.words == 0 || frame >= per_word * words {
        0
    } else {
        triangle(frame % per_word, per_word, 50) + 50
    };
    let mouth_h = 2 + open * r / 3 / 100;
    let mouth_y = cy + r / 3;
    canvas.rect(
        cx - r / 3,
        mouth_y - mouth_h / 2,
        cx + r / 3,
        mouth_y + mouth_h / 2 + 1,
        [120, 30, 40],
    );

    canvas.progress(frame, frames, hsv(hue + 180, 110, 240));
}

/// A render frame: the timeline's background, one row per track, and in each row a band in the
/// colour of the clip playing there (with a lighter strip growing across it as the clip plays),
/// then the progress bar.
pub(crate) fn draw_render(canvas: &mut Canvas, spec: &RenderSpec, frame: u32, frames: u32) {
    let (w, h) = (canvas.width(), canvas.height());
    canvas.rect(0, 0, w, h, spec.background);

    let t_ms = u64::from(frame) * u64::from(spec.timeline_ms) / u64::from(frames.max(1));
    let rows = spec.rows() as i32;
    let (top, bottom, margin) = (8, h - 14, 8);
    let row_h = ((bottom - top) / rows).max(1);
    for clip in &spec.clips {
        let (start, length) = (u64::from(clip.start_ms), u64::from(clip.length_ms));
        if t_ms < start || t_ms >= start + length {
            continue;
        }
        let y0 = top + i32::from(clip.row) * row_h + 1;
        let y1 = y0 + row_h - 2;
        canvas.rect(margin, y0, w - margin, y1, clip.colour);
        let played = ((t_ms - start) * (w - 2 * margin) as u64 / length.max(1)) as i32;
        let light = clip.colour.map(|c| c / 2 + 128);
        canvas.rect(margin, y1 - (row_h / 4).max(1), margin + played, y1, light);
    }

    canvas.progress(frame, frames, [230, 230, 230]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_convert_like_bt601() {
        assert_eq!(to_yuv([0, 0, 0]), [16, 128, 128]);
        assert_eq!(to_yuv([255, 255, 255]), [235, 128, 128]);
        assert_eq!(to_yuv([255, 0, 0]), [82, 90, 240]);
    }

    #[test]
    fn shapes_stay_inside_the_canvas() {
        let mut canvas = Canvas::new(8, 6);
        canvas.rect(-5, -5, 100, 100, [255, 255, 255]);
        assert!(canvas.planes().2[0].iter().all(|&y| y == 235));
        canvas.disc(0, 0, 50, [0, 0, 0]);
        canvas.disc(-100, 3, 2, [255, 0, 0]);
        canvas.rect(5, 5, 2, 2, [255, 0, 0]);
        assert!(canvas.planes().2[0].iter().all(|&y| y == 16));
        let [_, u, v] = canvas.planes().2;
        assert_eq!((u.len(), v.len()), (12, 12));
    }

    #[test]
    fn triangles_swing_both_ways() {
        let values: Vec<i32> = (0..12).map(|f| triangle(f, 12, 6)).collect();
        assert_eq!(values[0], -6);
        assert_eq!(values[6], 6);
        assert_eq!(triangle(12, 12, 6), -6);
    }
}
