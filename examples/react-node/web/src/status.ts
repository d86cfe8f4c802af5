import { useQuery } from '@tanstack/react-query';
import { useTRPC } from './trpc';

/** The server's status: which store it uses and whether it can reach it. Polled; answers even when the store is down. */
export function useServerStatus() {
  const trpc = useTRPC();
  return useQuery({ ...trpc.status.queryOptions(), refetchInterval: 2000 });
}
