// A countdown to a moment: the text says m:ss left and is updated each
// second. It is a timer (role="timer", not live) so screen readers are not
// told every second; callers announce what matters once.
export function formatLeft(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  return Math.floor(s / 60) + ':' + String(s % 60).padStart(2, '0');
}

export function startCountdown(el, until, { now = Date.now, onTick, onEnd } = {}) {
  let timer = 0;
  const tick = () => {
    const left = until - now();
    el.textContent = formatLeft(left);
    if (onTick) onTick(left);
    if (left <= 0) {
      clearInterval(timer);
      if (onEnd) onEnd();
    }
  };
  tick();
  timer = setInterval(tick, 1000);
  return () => clearInterval(timer);
}
