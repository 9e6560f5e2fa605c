package pixring.graph;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.graphx.Edge;
import org.apache.spark.graphx.Graph;
import org.apache.spark.graphx.lib.ConnectedComponents;
import org.apache.spark.graphx.lib.LabelPropagation;
import org.apache.spark.graphx.lib.PageRank;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.apache.spark.storage.StorageLevel;
import scala.Tuple2;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * Spark GraphX algorithms over DataFrames, callable from PySpark through py4j.
 *
 * <p>Vertices are a DataFrame with a {@code vid: long} column, edges one with {@code src: long,
 * dst: long}. GraphX ships inside pyspark's own jars, so this class is compiled with javac against
 * them by {@code pixring jars}; it stands in for the GraphFrames JVM package, which the Maven
 * repository reachable here does not serve (see docs/stack.md).
 */
public final class GraphXBridge {
    private static final ClassTag<Integer> INT = ClassTag$.MODULE$.apply(Integer.class);

    private GraphXBridge() {}

    private static Graph<Integer, Integer> graph(Dataset<Row> vertices, Dataset<Row> edges) {
        JavaRDD<Tuple2<Object, Integer>> v = vertices.select("vid").toJavaRDD()
            .map(r -> new Tuple2<Object, Integer>(r.getLong(0), 0));
        JavaRDD<Edge<Integer>> e = edges.select("src", "dst").toJavaRDD()
            .map(r -> new Edge<Integer>(r.getLong(0), r.getLong(1), 1));
        return Graph.apply(v.rdd(), e.rdd(), 0,
            StorageLevel.MEMORY_AND_DISK(), StorageLevel.MEMORY_AND_DISK(), INT, INT);
    }

    private static Dataset<Row> frame(SparkSession spark, JavaRDD<Row> rows, String col, boolean dbl) {
        StructType schema = new StructType().add("vid", DataTypes.LongType, false)
            .add(col, dbl ? DataTypes.DoubleType : DataTypes.LongType, false);
        return spark.createDataFrame(rows, schema);
    }

    /** Weakly connected components: each vertex gets the smallest vid of its component. */
    public static Dataset<Row> connectedComponents(
            SparkSession spark, Dataset<Row> vertices, Dataset<Row> edges, int maxIter) {
        Graph<Object, Integer> g = ConnectedComponents.run(graph(vertices, edges), maxIter, INT, INT);
        return frame(spark, g.vertices().toJavaRDD().map(t -> RowFactory.create(t._1(), t._2())),
            "component", false);
    }

    /** Label propagation communities (static, maxSteps supersteps). */
    public static Dataset<Row> labelPropagation(
            SparkSession spark, Dataset<Row> vertices, Dataset<Row> edges, int maxSteps) {
        Graph<Object, Integer> g = LabelPropagation.run(graph(vertices, edges), maxSteps, INT);
        return frame(spark, g.vertices().toJavaRDD().map(t -> RowFactory.create(t._1(), t._2())),
            "label", false);
    }

    /** Static PageRank with numIter iterations and the given reset probability. */
    public static Dataset<Row> pageRank(
            SparkSession spark, Dataset<Row> vertices, Dataset<Row> edges, int numIter, double resetProb) {
        Graph<Object, Object> g = PageRank.run(graph(vertices, edges), numIter, resetProb, INT, INT);
        return frame(spark, g.vertices().toJavaRDD().map(t -> RowFactory.create(t._1(), t._2())),
            "pagerank", true);
    }
}
