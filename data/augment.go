package data

import (
	"fmt"
	"math/rand/v2"
)

// CropFlip writes into dst a randomly augmented copy of the batch x of n
// images of c×h×w values: each image is zero-padded by pad pixels on every
// side, cropped back to h×w at a random offset, and mirrored left-right with
// probability 1/2 — the standard CIFAR-10 augmentation (pad 4). dst and x
// must not overlap. Draws come from rng, so a seeded rng reproduces them.
func CropFlip(dst, x []float32, n, c, h, w, pad int, rng *rand.Rand) error {
	size := c * h * w
	if n < 0 || c < 1 || h < 1 || w < 1 || pad < 0 || len(x) != n*size || len(dst) != len(x) {
		return fmt.Errorf("%w: CropFlip of %d images %dx%dx%d (pad %d) on %d values into %d",
			ErrInvalid, n, c, h, w, pad, len(x), len(dst))
	}
	if rng == nil {
		return fmt.Errorf("%w: CropFlip needs a *rand.Rand", ErrInvalid)
	}
	for i := range n {
		dy, dx := rng.IntN(2*pad+1)-pad, rng.IntN(2*pad+1)-pad
		flip := rng.IntN(2) == 1
		src, out := x[i*size:(i+1)*size], dst[i*size:(i+1)*size]
		for ch := range c {
			for y := range h {
				row := out[(ch*h+y)*w : (ch*h+y+1)*w]
				sy := y + dy
				if sy < 0 || sy >= h {
					clear(row)
					continue
				}
				srow := src[(ch*h+sy)*w : (ch*h+sy+1)*w]
				for xx := range row {
					sx := xx + dx
					if flip {
						sx = w - 1 - xx + dx
					}
					if sx < 0 || sx >= w {
						row[xx] = 0
					} else {
						row[xx] = srow[sx]
					}
				}
			}
		}
	}
	return nil
}
