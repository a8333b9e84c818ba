package templates

import (
	"fmt"
	"text/template"
	"text/template/parse"
)

// rewrite makes every printing action of every template in set end with the
// function fn ("slackEscape" or "str"). It copies each parse tree first:
// set must be a clone whose trees may still be shared with other sets.
func rewrite(set *template.Template, fn string) {
	for _, t := range set.Templates() {
		if t.Tree == nil || t.Tree.Root == nil {
			continue
		}
		tree := t.Tree.Copy()
		walk(tree.Root, func(n parse.Node) {
			if a, ok := n.(*parse.ActionNode); ok {
				appendFinisher(tree, a.Pipe, fn)
			}
		})
		t.Tree = tree
	}
}

// walk calls visit for every node of list, descending into if, range and
// with, but not into the templates that {{ template }} calls.
func walk(list *parse.ListNode, visit func(parse.Node)) {
	if list == nil {
		return
	}
	for _, n := range list.Nodes {
		visit(n)
		switch n := n.(type) {
		case *parse.IfNode:
			walk(n.List, visit)
			walk(n.ElseList, visit)
		case *parse.RangeNode:
			walk(n.List, visit)
			walk(n.ElseList, visit)
		case *parse.WithNode:
			walk(n.List, visit)
			walk(n.ElseList, visit)
		case *parse.ListNode:
			walk(n, visit)
		}
	}
}

// checkCalls reports a {{ template "x" }} call to an undefined template in
// tree or any template it reaches, so that the mistake shows at load rather
// than at the first send. lookup returns a defined template's tree, or nil.
func checkCalls(tree *parse.Tree, lookup func(name string) *parse.Tree) error {
	seen := map[*parse.Tree]bool{}
	var check func(tree *parse.Tree) error
	check = func(tree *parse.Tree) error {
		if tree == nil || seen[tree] {
			return nil
		}
		seen[tree] = true
		var calls []*parse.TemplateNode
		walk(tree.Root, func(n parse.Node) {
			if c, ok := n.(*parse.TemplateNode); ok {
				calls = append(calls, c)
			}
		})
		for _, c := range calls {
			called := lookup(c.Name)
			if called == nil {
				location, _ := tree.ErrorContext(c)
				return fmt.Errorf("template: %s: template %q not defined", location, c.Name)
			}
			if err := check(called); err != nil {
				return err
			}
		}
		return nil
	}
	return check(tree)
}

// appendFinisher appends "| fn" to a pipeline that prints (declares no
// variable) unless its last command already finishes it (see finishes).
func appendFinisher(tree *parse.Tree, pipe *parse.PipeNode, fn string) {
	if pipe == nil || len(pipe.Decl) > 0 || len(pipe.Cmds) == 0 || len(pipe.Cmds[len(pipe.Cmds)-1].Args) == 0 {
		return
	}
	last := pipe.Cmds[len(pipe.Cmds)-1]
	if id, ok := last.Args[0].(*parse.IdentifierNode); ok && finishes(fn, id.Ident) {
		return
	}
	// Copying the last command gives the new one its tree and position, which
	// execution errors use to report a location.
	cmd := last.Copy().(*parse.CommandNode)
	cmd.Args = []parse.Node{parse.NewIdentifier(fn).SetTree(tree).SetPos(last.Pos)}
	pipe.Cmds = append(pipe.Cmds, cmd)
}

// finishes reports whether an action whose last command calls last needs no
// fn appended. In Slack mode only slackEscape and slackRaw (already-safe
// markup) finish an action; otherwise any function that prints its value as
// text does.
func finishes(fn, last string) bool {
	switch last {
	case "slackEscape", "slackRaw":
		return true
	case "str":
		return fn == "str"
	}
	return false
}
