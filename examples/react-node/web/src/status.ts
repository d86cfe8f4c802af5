import { useQuery } from '@tanstack/react-query';
import { trpc } from './trpc';

/** The server's status: which store it uses and whether it can reach it. Polled; answers even when the store is down. */
export function useServerStatus() {
  return useQuery({ ...trpc.status.queryOptions(), refetchInterval: 2000 });
}
