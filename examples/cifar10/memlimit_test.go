package main

import (
	"os"
	"testing"

	"github.com/robustq/robustq/examples/internal/pipeline"
)

func TestMain(m *testing.M) {
	pipeline.TestHeapLimit()
	os.Exit(m.Run())
}
