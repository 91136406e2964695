package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/robustq/robustq/internal/atomicfile"
	"github.com/robustq/robustq/nn"
)

// ManifestFile is the file in a folder of published models that lists them.
const ManifestFile = "models.json"

// PublishedModel is one entry of a published folder's manifest.
type PublishedModel struct {
	// Label is the model's label in the tables ("Orig.").
	Label string `json:"label"`
	// File is the safetensors file, relative to the folder.
	File string `json:"file"`
	// CacheKey is the regime's CacheKey when it was trained: a model is
	// used only by code whose recipe gives the same key.
	CacheKey string `json:"cache_key"`
	// Recipe is how it was trained.
	Recipe string `json:"recipe"`
	// SHA256 is the hex SHA-256 of File.
	SHA256 string `json:"sha256"`
	// TrainSeconds is the training time over every run that contributed.
	TrainSeconds float64 `json:"train_seconds"`
}

// Publish writes every regime's trained network to dir as
// <label>.safetensors (see fileName) with a manifest (models.json) that
// records each file's SHA-256, recipe and cache key, so that the models can
// be committed and evaluated later without training (LoadPublished).
func Publish(dir string, regimes []Regime, nets map[string]*nn.Network, took map[string]TrainTime) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	keys := CacheKeys(regimes)
	var manifest []PublishedModel
	for _, r := range regimes {
		net := nets[r.Key]
		if net == nil {
			return fmt.Errorf("publish: no trained model for %s", r.Label)
		}
		file := fileName(r.Label) + ".safetensors"
		p := filepath.Join(dir, file)
		meta := map[string]string{"label": r.Label, "cache_key": keys[r.Key], "recipe": r.Recipe}
		if err := net.SaveFile(p, meta); err != nil {
			return err
		}
		sum, err := fileSHA256(p)
		if err != nil {
			return err
		}
		manifest = append(manifest, PublishedModel{Label: r.Label, File: file, CacheKey: keys[r.Key], Recipe: r.Recipe,
			SHA256: sum, TrainSeconds: took[r.Key].Took.Seconds()})
	}
	b, err := json.MarshalIndent(manifest, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, ManifestFile), append(b, '\n'))
}

// ReadManifest reads a published folder's manifest.
func ReadManifest(dir string) ([]PublishedModel, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		return nil, err
	}
	var m []PublishedModel
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	return m, nil
}

// LoadPublished loads into net the model of dir's manifest with the given
// cache key, after checking the file's SHA-256 against the manifest. It
// returns an error wrapping fs.ErrNotExist when the manifest has no model
// of that key (another recipe, or not published).
func LoadPublished(dir, cacheKey string, net *nn.Network) (PublishedModel, error) {
	manifest, err := ReadManifest(dir)
	if err != nil {
		return PublishedModel{}, err
	}
	var have []string
	for _, m := range manifest {
		if m.CacheKey != cacheKey {
			have = append(have, m.CacheKey)
			continue
		}
		p := filepath.Join(dir, m.File)
		sum, err := fileSHA256(p)
		if err != nil {
			return m, err
		}
		if sum != m.SHA256 {
			return m, fmt.Errorf("%s: SHA-256 %s, the manifest records %s", p, sum, m.SHA256)
		}
		if _, err := net.LoadFile(p); err != nil {
			return m, err
		}
		return m, nil
	}
	return PublishedModel{}, fmt.Errorf("%w: %s publishes no model %s (it has %s): the recipe changed since they were trained",
		fs.ErrNotExist, dir, cacheKey, strings.Join(have, ", "))
}

func fileSHA256(p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CacheKeys returns every regime's CacheKey, by Key.
func CacheKeys(regimes []Regime) map[string]string {
	keys := map[string]string{}
	for _, r := range regimes {
		keys[r.Key] = r.CacheKey(keys[r.From])
	}
	return keys
}
