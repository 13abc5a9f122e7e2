/**
 * MQTT topic names and filters (MQTT 3.1.1 §4.7), and the one question ACLs ask: does an allowed
 * filter cover a requested topic or filter?
 */

/** Problems with a topic filter (MQTT 3.1.1 §4.7.1, §4.7.3); [] when valid. */
export function topicFilterProblems(filter: string): string[] {
  const problems: string[] = [];
  if (filter.length === 0) return ['must not be empty (MQTT 3.1.1 §4.7.3)'];
  if (filter.includes('\u0000')) problems.push('must not contain NUL (MQTT 3.1.1 §4.7.3)');
  const levels = filter.split('/');
  levels.forEach((level, index) => {
    // §4.7.1.2: "#" stands alone in its level and is the last character of the filter.
    if (level.includes('#') && (level !== '#' || index !== levels.length - 1))
      problems.push('"#" must be a whole level and the last one (MQTT 3.1.1 §4.7.1.2)');
    // §4.7.1.3: "+" occupies an entire level.
    if (level.includes('+') && level !== '+')
      problems.push('"+" must be a whole level (MQTT 3.1.1 §4.7.1.3)');
  });
  return [...new Set(problems)];
}

/** Problems with a topic name as published (MQTT 3.1.1 §3.3.2.1: no wildcards). */
export function topicNameProblems(topic: string): string[] {
  if (topic.length === 0) return ['must not be empty (MQTT 3.1.1 §4.7.3)'];
  const problems: string[] = [];
  if (topic.includes('+') || topic.includes('#'))
    problems.push('must not contain "+" or "#" (MQTT 3.1.1 §3.3.2.1)');
  if (topic.includes('\u0000')) problems.push('must not contain NUL (MQTT 3.1.1 §4.7.3)');
  return problems;
}

/**
 * True when every topic matched by `requested` (a topic name or a filter) is also matched by
 * `allowed`. A topic name is a filter without wildcards, so this also answers "may publish here".
 * MQTT 3.1.1 §4.7.2: a filter starting with a wildcard does not match topics starting with "$".
 */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  if (r[0]?.startsWith('$') && (a[0] === '+' || a[0] === '#')) return false;
  for (let i = 0; i < a.length; i++) {
    const level = a[i];
    // §4.7.1.2: "sport/#" also matches "sport" itself, so "#" covers zero or more remaining levels.
    if (level === '#') return true;
    if (i >= r.length) return false;
    const wanted = r[i];
    if (wanted === '#') return false;
    if (level === '+') continue;
    if (level !== wanted) return false;
  }
  return r.length === a.length;
}

/** True when the topic name `topic` matches the filter `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  return filterCovers(filter, topic);
}
