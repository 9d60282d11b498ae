package safetensors

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexFile is the name of the shard index Hugging Face writes beside
// sharded checkpoints (model-00001-of-00002.safetensors, ...).
const IndexFile = "model.safetensors.index.json"

// SingleFile is the name of an unsharded checkpoint.
const SingleFile = "model.safetensors"

// Set is the union of the tensors of one checkpoint's files. Its tensor data
// views are valid until Close.
type Set struct {
	Files []*File
	// Names lists every tensor, in file order then data order.
	Names []string
	where map[string]loc
}

type loc struct{ file, tensor int }

// OpenDir opens the checkpoint in dir: the shards listed by
// model.safetensors.index.json if it exists, else model.safetensors, else
// every *.safetensors file in name order. A tensor name found in two files,
// or an index entry that its shard does not hold, is an error.
func OpenDir(dir string) (*Set, error) {
	var paths []string
	var weightMap map[string]string
	idx, err := os.ReadFile(filepath.Join(dir, IndexFile))
	switch {
	case err == nil:
		var ix struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(idx, &ix); err != nil {
			return nil, fmt.Errorf("safetensors: %s: %w", filepath.Join(dir, IndexFile), err)
		}
		if len(ix.WeightMap) == 0 {
			return nil, fmt.Errorf("safetensors: %s: empty weight_map", filepath.Join(dir, IndexFile))
		}
		seen := map[string]bool{}
		for name, shard := range ix.WeightMap {
			// Shard names come from a downloaded file: never let them
			// escape the directory.
			if shard == "" || shard != filepath.Base(shard) || shard == "." || shard == ".." || strings.ContainsAny(shard, `/\`) {
				return nil, fmt.Errorf("safetensors: %s: tensor %q: bad shard file name %q", IndexFile, name, shard)
			}
			if !seen[shard] {
				seen[shard] = true
				paths = append(paths, filepath.Join(dir, shard))
			}
		}
		sort.Strings(paths)
		weightMap = ix.WeightMap
	case errors.Is(err, os.ErrNotExist):
		single := filepath.Join(dir, SingleFile)
		if _, err := os.Stat(single); err == nil {
			paths = []string{single}
		} else {
			paths, _ = filepath.Glob(filepath.Join(dir, "*.safetensors"))
			sort.Strings(paths)
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("safetensors: no %s, %s or *.safetensors in %s", IndexFile, SingleFile, dir)
		}
	default:
		return nil, err
	}
	return OpenFiles(paths, weightMap)
}

// OpenFiles opens the given files as one checkpoint. If weightMap is not
// nil, every tensor it names must be in the file it names (by base name).
func OpenFiles(paths []string, weightMap map[string]string) (*Set, error) {
	s := &Set{where: map[string]loc{}}
	for fi, p := range paths {
		f, err := Open(p)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.Files = append(s.Files, f)
		for ti := range f.Tensors {
			name := f.Tensors[ti].Name
			if prev, dup := s.where[name]; dup {
				err := fmt.Errorf("safetensors: tensor %q is in both %s and %s", name, s.Files[prev.file].Path, p)
				s.Close()
				return nil, err
			}
			s.where[name] = loc{fi, ti}
			s.Names = append(s.Names, name)
		}
	}
	for name, shard := range weightMap {
		l, ok := s.where[name]
		if !ok || filepath.Base(s.Files[l.file].Path) != shard {
			s.Close()
			return nil, fmt.Errorf("safetensors: %s lists tensor %q in %s, which does not hold it", IndexFile, name, shard)
		}
	}
	return s, nil
}

// Tensor returns the named tensor and the file that holds it.
func (s *Set) Tensor(name string) (*Tensor, *File, bool) {
	l, ok := s.where[name]
	if !ok {
		return nil, nil, false
	}
	f := s.Files[l.file]
	return &f.Tensors[l.tensor], f, true
}

// Data returns the named tensor's bytes, a view into its file's mapping.
func (s *Set) Data(name string) ([]byte, error) {
	t, f, ok := s.Tensor(name)
	if !ok {
		return nil, fmt.Errorf("safetensors: no tensor %q", name)
	}
	return f.Data(t)
}

// Close unmaps every file.
func (s *Set) Close() error {
	var first error
	for _, f := range s.Files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	s.Files = nil
	return first
}
