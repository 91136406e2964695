package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/robustq/robustq/internal/safetensors"
)

func Example() {
	weights := []safetensors.Tensor{
		{Name: "fc.weight", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
		{Name: "fc.bias", Shape: []int{2}, Data: []float32{0.5, -0.5}},
	}
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, weights, map[string]string{"format": "pt"}); err != nil {
		fmt.Println(err)
		return
	}
	tensors, meta, err := safetensors.Read(&buf)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range tensors {
		fmt.Println(t.Name, t.Shape, t.Data)
	}
	fmt.Println(meta)
	// Output:
	// fc.bias [2] [0.5 -0.5]
	// fc.weight [2 3] [1 2 3 4 5 6]
	// map[format:pt]
}
