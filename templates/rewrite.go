package templates

import (
	"fmt"
	"strings"
	"text/template"
	"text/template/parse"
)

// rewrite makes every printing action of every template in set end with a
// finishing function: "str" in None and Line modes; in Slack mode
// "slackBlock" for an action inside a ``` code block of the template's
// literal text and "slackEscape" elsewhere; in Blocks mode the same as in
// Slack mode followed by "jsonString". It copies each parse tree first: set
// must be a clone whose trees may still be shared with other sets.
func rewrite(set *template.Template, esc Escape) {
	for _, t := range set.Templates() {
		if t.Tree == nil || t.Tree.Root == nil {
			continue
		}
		tree := t.Tree.Copy()
		if esc == Slack || esc == Blocks {
			inBlock := false
			walkSlack(tree.Root, &inBlock, func(a *parse.ActionNode, block bool) {
				fn := "slackEscape"
				if block {
					fn = "slackBlock"
				}
				appendFinisher(tree, a.Pipe, fn)
				if esc == Blocks {
					appendCall(tree, a.Pipe, "jsonString")
				}
			})
		} else {
			walk(tree.Root, func(n parse.Node) {
				if a, ok := n.(*parse.ActionNode); ok {
					appendFinisher(tree, a.Pipe, "str")
				}
			})
		}
		t.Tree = tree
	}
}

// walkSlack calls visit for every action of list in template order with
// whether the template's literal text has a ``` code block open there.
// Values cannot open or close a block (slackEscape and slackBlock neutralise
// backticks), so the literal text alone decides. Each branch of if, range and
// with starts from the state before it, and the state after the first
// branch carries on: a template that opens a block in one branch and closes
// it in another is not understood, and its values are treated as outside a
// block (one line each), which is the safe reading.
func walkSlack(list *parse.ListNode, inBlock *bool, visit func(*parse.ActionNode, bool)) {
	if list == nil {
		return
	}
	for _, n := range list.Nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			if strings.Count(string(n.Text), "```")%2 == 1 {
				*inBlock = !*inBlock
			}
		case *parse.ActionNode:
			visit(n, *inBlock)
		case *parse.IfNode:
			walkBranches(n.List, n.ElseList, inBlock, visit)
		case *parse.RangeNode:
			walkBranches(n.List, n.ElseList, inBlock, visit)
		case *parse.WithNode:
			walkBranches(n.List, n.ElseList, inBlock, visit)
		case *parse.ListNode:
			walkSlack(n, inBlock, visit)
		}
	}
}

func walkBranches(list, elseList *parse.ListNode, inBlock *bool, visit func(*parse.ActionNode, bool)) {
	before := *inBlock
	walkSlack(list, inBlock, visit)
	after := *inBlock
	*inBlock = before
	walkSlack(elseList, inBlock, visit)
	if *inBlock != after {
		after = false // the branches disagree: not understood, one line is safe
	}
	*inBlock = after
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
	if !prints(pipe) {
		return
	}
	last := pipe.Cmds[len(pipe.Cmds)-1]
	if id, ok := last.Args[0].(*parse.IdentifierNode); ok && finishes(fn, id.Ident) {
		return
	}
	appendCall(tree, pipe, fn)
}

// appendCall appends "| fn" to a pipeline that prints, whatever it ends
// with.
func appendCall(tree *parse.Tree, pipe *parse.PipeNode, fn string) {
	if !prints(pipe) {
		return
	}
	// Copying the last command gives the new one its tree and position, which
	// execution errors use to report a location.
	last := pipe.Cmds[len(pipe.Cmds)-1]
	cmd := last.Copy().(*parse.CommandNode)
	cmd.Args = []parse.Node{parse.NewIdentifier(fn).SetTree(tree).SetPos(last.Pos)}
	pipe.Cmds = append(pipe.Cmds, cmd)
}

// prints reports whether pipe is a pipeline whose value an action prints:
// it declares or assigns no variable and has a last command.
func prints(pipe *parse.PipeNode) bool {
	return pipe != nil && len(pipe.Decl) == 0 && len(pipe.Cmds) > 0 && len(pipe.Cmds[len(pipe.Cmds)-1].Args) > 0
}

// finishes reports whether an action whose last command calls last needs no
// fn appended. In Slack and Blocks modes only slackEscape, slackBlock and
// slackRaw (already-safe markup) finish an action; otherwise str does.
func finishes(fn, last string) bool {
	switch last {
	case "slackEscape", "slackBlock", "slackRaw":
		return true
	case "str":
		return fn == "str"
	}
	return false
}
