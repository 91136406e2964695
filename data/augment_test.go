package data

import (
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCropFlip(t *testing.T) {
	const n, c, h, w = 50, 2, 5, 4
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(i%97) / 97
	}
	// pad 0 and no flip would be the identity; with pad 0 every output is the
	// image or its mirror.
	dst := make([]float32, len(x))
	if err := CropFlip(dst, x, n, c, h, w, 0, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	mirrored := 0
	for i := range n {
		img, out := x[i*c*h*w:(i+1)*c*h*w], dst[i*c*h*w:(i+1)*c*h*w]
		if slices.Equal(img, out) {
			continue
		}
		for ch := range c {
			for y := range h {
				for xx := range w {
					if out[(ch*h+y)*w+xx] != img[(ch*h+y)*w+w-1-xx] {
						t.Fatalf("image %d is neither itself nor its mirror", i)
					}
				}
			}
		}
		mirrored++
	}
	// Binomial(50, 1/2): 10..40 holds with probability > 0.9999.
	if mirrored < 10 || mirrored > 40 {
		t.Errorf("%d of %d mirrored", mirrored, n)
	}
	// With padding, every output value is 0 or a value of the same image and
	// channel; the same seed gives the same result.
	a, b := make([]float32, len(x)), make([]float32, len(x))
	CropFlip(a, x, n, c, h, w, 2, rand.New(rand.NewPCG(2, 2)))
	CropFlip(b, x, n, c, h, w, 2, rand.New(rand.NewPCG(2, 2)))
	if !slices.Equal(a, b) {
		t.Error("same seed, different augmentation")
	}
	for i := range n {
		for ch := range c {
			plane := x[(i*c+ch)*h*w : (i*c+ch+1)*h*w]
			for _, v := range a[(i*c+ch)*h*w : (i*c+ch+1)*h*w] {
				if v != 0 && !slices.Contains(plane, v) {
					t.Fatalf("value %v not from image %d channel %d", v, i, ch)
				}
			}
		}
	}
	if err := CropFlip(dst[:3], x, n, c, h, w, 1, rand.New(rand.NewPCG(1, 1))); err == nil {
		t.Error("short destination accepted")
	}
}
