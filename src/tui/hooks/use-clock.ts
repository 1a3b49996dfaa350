/** The time, ticking every `ms` (for uptimes and "5m ago"); a fixed `now` (tests) stops it. */
import { useEffect, useState } from 'react';

export function useClock(ms: number, fixed?: number): number {
  const [now, setNow] = useState(() => fixed ?? Date.now());
  useEffect(() => {
    if (fixed !== undefined) return;
    const timer = setInterval(() => setNow(Date.now()), ms);
    return () => clearInterval(timer);
  }, [ms, fixed]);
  return fixed ?? now;
}
