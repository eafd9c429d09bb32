/* SPDX-License-Identifier: ISC */
/* Copyright (c) 2026 The ietd authors */
/*
 * Intrusive circular doubly linked list. A struct list_node is embedded in
 * the element; list_entry() gets the element back. An empty list's head
 * points at itself, so insert and remove need no special cases.
 */
#ifndef IETD_UTIL_LIST_H
#define IETD_UTIL_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct list_node {
	struct list_node *next, *prev;
};

#define LIST_HEAD_INIT(name)     \
	{                        \
		&(name), &(name) \
	}

/* Through uintptr_t so a const node yields an element without a warning. */
#define list_entry(node, type, member) \
	((type *)((uintptr_t)(node)-offsetof(type, member)))

#define list_first_entry(head, type, member) \
	list_entry((head)->next, type, member)

#define list_for_each(pos, head) \
	for ((pos) = (head)->next; (pos) != (head); (pos) = (pos)->next)

/* Safe against removal of pos inside the loop body. */
#define list_for_each_safe(pos, tmp, head)                               \
	for ((pos) = (head)->next, (tmp) = (pos)->next; (pos) != (head); \
	     (pos) = (tmp), (tmp) = (pos)->next)

static inline void
list_init(struct list_node *head)
{
	head->next = head->prev = head;
}

static inline bool
list_empty(const struct list_node *head)
{
	return head->next == head;
}

static inline void
list_insert_between(struct list_node *n, struct list_node *prev,
    struct list_node *next)
{
	n->prev = prev;
	n->next = next;
	prev->next = n;
	next->prev = n;
}

/* Append n at the tail of head. */
static inline void
list_add_tail(struct list_node *head, struct list_node *n)
{
	list_insert_between(n, head->prev, head);
}

/* Insert n at the front of head. */
static inline void
list_add_head(struct list_node *head, struct list_node *n)
{
	list_insert_between(n, head, head->next);
}

/* Unlink n; it is left pointing at itself so a second remove is harmless. */
static inline void
list_remove(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

static inline size_t
list_count(const struct list_node *head)
{
	size_t n = 0;
	const struct list_node *p;

	for (p = head->next; p != head; p = p->next)
		n++;
	return n;
}

#endif /* IETD_UTIL_LIST_H */
