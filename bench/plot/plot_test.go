package plot_test

import (
	"bytes"
	"image/png"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zmqkit/zmqkit/bench"
	"github.com/zmqkit/zmqkit/bench/plot"
)

var rows = []bench.Row{
	{System: "zmqkit", Pattern: "pushpull", Transport: "tcp", Size: 128, RecvRate: 2e6, RecvMBps: 256},
	{System: "zmqkit", Pattern: "pushpull", Transport: "tcp", Size: 1024, RecvRate: 7e5, RecvMBps: 700},
	{System: "rawtcp", Pattern: "pushpull", Transport: "tcp", Size: 128, RecvRate: 6e6, RecvMBps: 768},
	{System: "rawtcp", Pattern: "pushpull", Transport: "tcp", Size: 1024, RecvRate: 8e5, RecvMBps: 819},
	{System: "zmqkit", Pattern: "reqrep", Transport: "tcp", Size: 128, RecvRate: 4e4},
}

func TestSVGAndPNG(t *testing.T) {
	var svg bytes.Buffer
	require.NoError(t, plot.Write(&svg, "svg", rows))
	s := svg.String()
	assert.True(t, strings.HasPrefix(s, "<?xml") || strings.Contains(s, "<svg"))
	assert.Contains(t, s, "zmqkit pushpull/tcp")
	assert.Contains(t, s, "rawtcp pushpull/tcp")
	assert.NotContains(t, s, "reqrep", "round-trip rows are not throughput")

	file := filepath.Join(t.TempDir(), "bench.png")
	require.NoError(t, plot.File(file, rows))
	var pngBuf bytes.Buffer
	require.NoError(t, plot.Write(&pngBuf, "png", rows))
	img, err := png.Decode(&pngBuf)
	require.NoError(t, err)
	assert.Greater(t, img.Bounds().Dx(), 500)

	assert.Error(t, plot.File(filepath.Join(t.TempDir(), "x.gif"), rows))
	assert.Error(t, plot.Write(&svg, "svg", nil))
}
